#!/usr/bin/env bash
# Runs every test of the workspace: starts the local DynamoDB/SQS/KMS emulator (moto)
# first, installing it if needed, and stops it afterwards if it started it. Under
# CI=true the integration tests fail (never skip) when the emulator is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

started=0
if ! curl -fsS -o /dev/null "http://127.0.0.1:${MOTO_PORT:-4566}/moto-api/" 2>/dev/null; then
  scripts/local-stack.sh start
  started=1
fi
cleanup() { if [ "$started" = 1 ]; then scripts/local-stack.sh stop; fi; }
trap cleanup EXIT
eval "$(scripts/local-stack.sh env)"

cargo test --workspace --locked "$@"
