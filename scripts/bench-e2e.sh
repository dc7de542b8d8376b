#!/usr/bin/env bash
# End-to-end benchmark through the emulator: registrations/s and AWS calls per
# registration. E2E_REGISTRATIONS sets how many (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/local-stack.sh start
eval "$(scripts/local-stack.sh env)"
cargo bench --locked -p integration-tests --bench e2e
