#!/usr/bin/env bash
# Runs the whole system locally: the emulator (moto) with the template's table, queues
# and key, the five Lambda functions under `cargo lambda watch`, a local API gateway,
# the SQS pump that plays Lambda's event source mapping, the reconciler's schedule, fake providers, and a demo that
# posts sample registrations and prints their logs. Then it keeps serving until Ctrl-C.
#
#   scripts/run-local.sh                 run, demo, keep serving
#   scripts/run-local.sh --exit-after-demo
#   scripts/run-local.sh --idle-check 300 [--ready-file F]
#                                        after the demo, no traffic for 300 s, then check
#                                        that every function still answers (a registration
#                                        posted, delivered and read back) and exit with
#                                        the result; F is created when the demo is done
#
# Ports (change them when another stack already runs on the machine): MOTO_PORT (4566),
# LOCAL_API_PORT (8080, the gateway), LOCAL_FUNCTIONS_PORT (9000, cargo lambda watch),
# LOCAL_FAKES_HOST (127.0.0.2, the fakes listen on its ports 8701-8703).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
state="$root/.local-stack"
exit_after_demo=0
idle_check=""
ready_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --exit-after-demo) exit_after_demo=1 ;;
    --idle-check) idle_check="${2:?--idle-check needs seconds}"; shift ;;
    --ready-file) ready_file="${2:?--ready-file needs a path}"; shift ;;
    *) echo "usage: $0 [--exit-after-demo | --idle-check SECONDS [--ready-file F]]" >&2; exit 2 ;;
  esac
  shift
done

api_port="${LOCAL_API_PORT:-8080}"
functions_port="${LOCAL_FUNCTIONS_PORT:-9000}"
fakes_host="${LOCAL_FAKES_HOST:-127.0.0.2}"
api="http://127.0.0.1:$api_port"
functions="http://127.0.0.1:$functions_port"
webhook_url="http://$fakes_host:8701/hooks/leads"

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

dev="${CARGO_TARGET_DIR:-$root/target}/debug/leadrelay-dev"
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
"$dev" fakes --secret "$secret" --webhook "$fakes_host:8701" --mailchimp "$fakes_host:8702" \
  --hubspot "$fakes_host:8703" >"$state/fakes.log" 2>&1 &
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
# No --timeout here: cargo-lambda puts that timeout on every route of its emulator, the
# runtime API included, so a function idle for that long has its long poll for the next
# invocation answered 408 without a request id, and lambda_runtime panics on it (the
# whole stack stopped answering a minute after the demo). The gateway and the pump bound
# each invocation instead (--timeout-s, --invoke-timeout-s), as API Gateway and the event
# source mapping do in AWS.
cargo lambda watch -A 127.0.0.1 -P "$functions_port" --env-file "$state/functions.env" \
  >"$state/watch.log" 2>&1 &
pids+=($!)
"$dev" gateway --listen "127.0.0.1:$api_port" --watch "$functions" --timeout-s 60 >"$state/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "$functions/" 2>/dev/null; then break; fi
  sleep 0.2
done
"$dev" pump --queue-url "$QUEUE_URL" \
  --invoke-url "$functions/2015-03-31/functions/deliver/invocations" --invoke-timeout-s 60 >"$state/pump.log" 2>&1 &
pids+=($!)
# The reconciler's EventBridge schedule (every minute, as in AWS).
"$dev" schedule --every-s 60 >"$state/schedule.log" 2>&1 &
pids+=($!)

say "demo: sample registrations and their logs"
"$dev" demo --api "$api" --secret "$secret" --webhook-url "$webhook_url" \
  --mailchimp-url "http://$fakes_host:8702" --hubspot-url "http://$fakes_host:8703"

cat <<MSG

The local stack is up:
  API            $api   (ingest, logs and admin routes, as in AWS)
  functions      $functions   (cargo lambda watch; logs in .local-stack/watch.log)
  emulator       $AWS_ENDPOINT_URL       (moto: DynamoDB, SQS, KMS)
  webhook fake   $webhook_url

Make your own account key and try it:
  TABLE_NAME=$TABLE_NAME AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=test \\
    AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 target/debug/leadrelay admin bootstrap --account-name Me
  curl -s $api/v1/campaigns -H "Authorization: Bearer <account key>" \\
    -H 'content-type: application/json' -d '{"name": "My quiz"}'
MSG

if [ -n "$ready_file" ]; then touch "$ready_file"; fi
if [ -n "$idle_check" ]; then
  say "idle for $idle_check s (no traffic), then checking that every function answers"
  sleep "$idle_check" &
  wait $! # (in the background, so Ctrl-C or a kill ends the wait at once)
  "$dev" smoke --api "$api" --webhook-url "$webhook_url" --secret "$secret"
  exit 0
fi
if [ "$exit_after_demo" = 1 ]; then
  exit 0
fi
echo "Serving until Ctrl-C."
wait
