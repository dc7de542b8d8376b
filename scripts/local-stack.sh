#!/usr/bin/env bash
# The local stand-ins for AWS and the tools around them, installed and run idempotently.
#
#   scripts/local-stack.sh install [base|lambda|iac|deny|all]   pinned tools into .local-stack/
#   scripts/local-stack.sh start                          moto_server on 127.0.0.1 (DynamoDB, SQS, KMS)
#   scripts/local-stack.sh stop
#   scripts/local-stack.sh env                            variables to `eval` for the SDK
#
# base: moto_server. lambda: cargo-lambda (brings zig). iac: cfn-lint, aws-sam-cli, and
# checkov in a venv of its own (its boto3 pin conflicts with aws-sam-cli's). deny:
# cargo-deny, built from crates.io with `cargo install --locked` into .local-stack/cargo-deny.
# A set is reinstalled only when its pins change.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.local-stack"
venv="$dir/venv"
port="${MOTO_PORT:-4566}"
host=127.0.0.1

pins_base=("moto[server]==5.2.5")
pins_lambda=("cargo-lambda==1.9.2")
pins_iac=("cfn-lint==1.58.0" "aws-sam-cli==1.170.0")
pins_checkov=("checkov==3.3.30")
pin_cargo_deny="0.20.2"

log() { printf 'local-stack: %s\n' "$*" >&2; }

python() {
  if command -v python3 >/dev/null 2>&1; then echo python3; else
    log "python3 is required (apt-get install python3 python3-venv)"; exit 1
  fi
}

# install_set NAME VENV PIN...: pip-installs the pins into VENV unless the same pins are
# already recorded there.
install_set() {
  local name="$1" env="$2"; shift 2
  local want stamp="$env/.pins-$name"
  want="$(printf '%s\n' "$@")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  mkdir -p "$dir"
  [ -x "$env/bin/pip" ] || "$(python)" -m venv "$env"
  log "installing $name: $*"
  "$env/bin/pip" install --quiet --disable-pip-version-check "$@"
  printf '%s' "$want" >"$stamp"
}

# install_cargo_deny: `cargo install` of the pinned cargo-deny, skipped when that version
# is already there.
install_cargo_deny() {
  local root="$dir/cargo-deny"
  if [ -x "$root/bin/cargo-deny" ] &&
    [ "$("$root/bin/cargo-deny" --version 2>/dev/null)" = "cargo-deny $pin_cargo_deny" ]; then
    return 0
  fi
  log "installing cargo-deny $pin_cargo_deny (a few minutes)"
  # Its own target dir, so a CARGO_TARGET_DIR shared with the workspace is not mixed in.
  CARGO_TARGET_DIR="$root/build" cargo install --locked --quiet --root "$root" \
    --version "$pin_cargo_deny" cargo-deny
  rm -rf "$root/build"
}

install() {
  local what="${1:-base}"
  case "$what" in
    base) install_set base "$venv" "${pins_base[@]}" ;;
    lambda) install_set lambda "$venv" "${pins_lambda[@]}" ;;
    iac)
      install_set iac "$venv" "${pins_iac[@]}"
      install_set checkov "$dir/checkov" "${pins_checkov[@]}"
      ;;
    deny) install_cargo_deny ;;
    all) install base; install lambda; install iac; install deny ;;
    *) log "unknown set '$what' (base, lambda, iac, deny, all)"; exit 2 ;;
  esac
}

ready() { curl -fsS -o /dev/null "http://$host:$port/moto-api/" 2>/dev/null; }

start() {
  install base
  if ready; then return 0; fi
  mkdir -p "$dir"
  log "starting moto_server on $host:$port"
  nohup "$venv/bin/moto_server" -H "$host" -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  for _ in $(seq 1 100); do
    if ready; then return 0; fi
    sleep 0.1
  done
  log "moto_server did not answer on $host:$port; see $dir/moto.log"
  exit 1
}

stop() {
  if [ -f "$dir/moto.pid" ]; then
    kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
    rm -f "$dir/moto.pid"
  fi
}

env_vars() {
  cat <<EOF
export AWS_ENDPOINT_URL=http://$host:$port
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
EOF
}

case "${1:-}" in
  install) install "${2:-base}" ;;
  start) start ;;
  stop) stop ;;
  env) env_vars ;;
  *) echo "usage: $0 install [base|lambda|iac|deny|all] | start | stop | env" >&2; exit 2 ;;
esac
