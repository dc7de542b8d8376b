#!/usr/bin/env bash
# Runs the whole system locally: the emulator (moto) with the template's table, queues
# and key, the four Lambda functions under `cargo lambda watch`, a local API gateway,
# the SQS pump that plays Lambda's event source mapping, fake providers, and a demo that
# posts sample registrations and prints their logs. Then it keeps serving until Ctrl-C.
#
#   scripts/run-local.sh                 run, demo, keep serving
#   scripts/run-local.sh --exit-after-demo
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
state="$root/.local-stack"
exit_after_demo=0
for arg in "$@"; do
  case "$arg" in
    --exit-after-demo) exit_after_demo=1 ;;
    *) echo "usage: $0 [--exit-after-demo]" >&2; exit 2 ;;
  esac
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing and starting the local stack"
scripts/local-stack.sh install base
scripts/local-stack.sh install lambda
export PATH="$state/venv/bin:$PATH"
scripts/local-stack.sh start
eval "$(scripts/local-stack.sh env)"
# A fresh run starts from empty tables and queues.
curl -fsS -X POST "$AWS_ENDPOINT_URL/moto-api/reset" >/dev/null

say "building (first run on a new machine: a few minutes)"
cargo build --locked --workspace

dev="$root/target/debug/leadrelay-dev"
eval "$("$dev" setup --prefix local | sed 's/^/export /')"
secret="$("$dev" secret)"
export CURSOR_SECRET="local-cursor-secret-$RANDOM$RANDOM"
echo "table $TABLE_NAME, queue $QUEUE_URL"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/local-stack.sh stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting fake providers, functions, gateway and pump"
"$dev" fakes --secret "$secret" >"$state/fakes.log" 2>&1 &
pids+=($!)
# The functions' environment, as the template sets it in AWS, plus the local switches:
# loopback destinations allowed (the fakes; the functions accept EGRESS_ALLOW_LOOPBACK only
# with the LEADRELAY_LOCAL_RUNNER marker and never under AWS Lambda) and a fast retry schedule.
cat >"$state/functions.env" <<ENV
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
TABLE_NAME=$TABLE_NAME
QUEUE_URL=$QUEUE_URL
KMS_KEY_ID=$KMS_KEY_ID
CURSOR_SECRET=$CURSOR_SECRET
EGRESS_ALLOW_LOOPBACK=true
LEADRELAY_LOCAL_RUNNER=cargo-lambda-watch
RETRY_SCHEDULE_S=2,4,8
ATTEMPT_TIMEOUT_S=5
RUST_LOG=info
ENV
cargo lambda watch -A 127.0.0.1 -P 9000 --timeout 60 --env-file "$state/functions.env" \
  >"$state/watch.log" 2>&1 &
pids+=($!)
"$dev" gateway --listen 127.0.0.1:8080 --watch http://127.0.0.1:9000 >"$state/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  if curl -s -o /dev/null http://127.0.0.1:9000/ 2>/dev/null; then break; fi
  sleep 0.2
done
"$dev" pump --queue-url "$QUEUE_URL" >"$state/pump.log" 2>&1 &
pids+=($!)

say "demo: sample registrations and their logs"
"$dev" demo --api http://127.0.0.1:8080 --secret "$secret"

cat <<MSG

The local stack is up:
  API            http://127.0.0.1:8080   (ingest, logs and admin routes, as in AWS)
  functions      http://127.0.0.1:9000   (cargo lambda watch; logs in .local-stack/watch.log)
  emulator       $AWS_ENDPOINT_URL       (moto: DynamoDB, SQS, KMS)
  webhook fake   http://127.0.0.2:8701/hooks/leads

Make your own account key and try it:
  TABLE_NAME=$TABLE_NAME AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=test \\
    AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 target/debug/leadrelay admin bootstrap --account-name Me
  curl -s http://127.0.0.1:8080/v1/campaigns -H "Authorization: Bearer <account key>" \\
    -H 'content-type: application/json' -d '{"name": "My quiz"}'
MSG

if [ "$exit_after_demo" = 1 ]; then
  exit 0
fi
echo "Serving until Ctrl-C."
wait
