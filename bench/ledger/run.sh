#!/usr/bin/env bash
# The ledger run: the real ingest and deliver handlers against two emulators of their own
# (SQS/KMS and DynamoDB, so neither waits on the other's core), under load, AWS faults,
# provider faults and crashes; one table of figures; non-zero exit when a registration
# answered 202 was lost, stranded or sent twice.
#
#   bench/ledger/run.sh           short mode (about 3 minutes; CI runs it)
#   bench/ledger/run.sh --long    long mode (about 15 minutes, 50 SIGKILLs)
#   bench/ledger/run.sh --only crashes     one scenario (load, aws, provider, crashes)
#
# LEDGER_MOTO_PORT (default 4577) and the port after it are used; the emulators are
# started here and stopped on exit. Child logs go to target/ledger/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"

scripts/local-stack.sh install base
moto="$root/.local-stack/venv/bin/moto_server"
port_sqs="${LEDGER_MOTO_PORT:-4577}"
port_ddb="$((port_sqs + 1))"
out="${CARGO_TARGET_DIR:-$root/target}/ledger"
mkdir -p "$out"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  # A busy moto can ignore SIGTERM; these are the emulators this script started.
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
for port in "$port_sqs" "$port_ddb"; do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
    echo "ledger: port $port is taken by another emulator; set LEDGER_MOTO_PORT" >&2
    exit 2
  fi
  "$moto" -H 127.0.0.1 -p "$port" >"$out/moto-$port.log" 2>&1 &
  pids+=("$!")
done
for port in "$port_sqs" "$port_ddb"; do
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null && break
    sleep 0.1
  done
done

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_KMS
# LEDGER_SKIP_BUILD=1 uses the binary already built.
[ -n "${LEDGER_SKIP_BUILD:-}" ] || cargo build --locked -q -p ledger
# A copy, so that a build during the run cannot replace the binary the children restart.
bin="$out/ledger-$$"
cp "${CARGO_TARGET_DIR:-$root/target}/debug/ledger" "$bin"
pids+=()
trap 'cleanup; rm -f "$bin"' EXIT
"$bin" run --moto-sqs "http://127.0.0.1:$port_sqs" --moto-ddb "http://127.0.0.1:$port_ddb" \
  --out "$out" "$@"
