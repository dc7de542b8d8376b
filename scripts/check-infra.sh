#!/usr/bin/env bash
# Offline checks of the deployment template: cfn-lint, sam validate --lint and checkov.
# No AWS account, credentials or network to AWS are needed; the tools are installed
# (pinned, once) into .local-stack/ by scripts/local-stack.sh.
#
# The template's own invariants (visibility vs timeout, redrive, routes, environment)
# are a Rust test: tests/template/main.rs, run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

template=infra/template.yaml
tools=.local-stack/venv/bin
checkov=.local-stack/checkov/bin

scripts/local-stack.sh install iac

echo "== cfn-lint $template"
"$tools/cfn-lint" "$template"

echo "== sam validate --lint"
# No telemetry notice and no ~/.aws-sam/metadata.json; the region only names endpoints.
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
  "$tools/sam" validate --lint -t "$template"

echo "== checkov"
# --skip-download: no call to the vendor's API. Every skipped check is listed with its
# reason in the template (Metadata: checkov: skip:), never on this command line.
"$checkov/checkov" -f "$template" --framework cloudformation --compact --quiet --skip-download
