#!/usr/bin/env bash
# Incremental rebuild times of the workspace after a one-line edit, and the size and
# dependency count of the `leadrelay` command line: the figures of the crate layout.
#
#   bench/rebuild.sh            the checkout this script is in
#   bench/rebuild.sh <dir>      another checkout (an older commit, to compare)
#
# Each edit changes one wording (a string literal), builds `cargo build --workspace
# --all-targets` and reports the wall time, then restores the file and builds again
# (untimed). The first full build is untimed too. Uses CARGO_TARGET_DIR if set.
set -euo pipefail
dir="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
cd "$dir"

find_first() { for f in "$@"; do [ -f "$f" ] && { echo "$f"; return; }; done; echo "none of: $*" >&2; exit 2; }
catalogue="$(find_first shared/explain/src/catalogue.rs shared/src/catalogue.rs)"
router="$(find_first functions/logs/src/router.rs)"

build() { cargo build --workspace --all-targets --locked -q 2>&1 | grep -v "^warning" || true; }

# Changes the first string literal of the file's first line holding `"...";` or `"...",`.
edit() {
  python3 - "$1" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
m = re.search(r'"([A-Za-z][^"\\]{8,})"', s)
s = s[:m.start(1)] + m.group(1) + " (edited)" + s[m.end(1):]
open(p, "w").write(s)
PY
}

echo "rebuild: warming up (untimed full build of $dir)" >&2
build
for f in "$catalogue" "$router"; do
  cp "$f" "$f.orig"
  edit "$f"
  start=$(date +%s.%N)
  build
  end=$(date +%s.%N)
  mv "$f.orig" "$f"
  printf 'rebuild after one wording in %s: %.1f s\n' "$f" "$(echo "$end - $start" | bc)"
  build
done

deps=$(cargo tree -p leadrelay-cli --prefix none 2>/dev/null | sort -u | wc -l)
echo "leadrelay-cli dependencies (cargo tree -p leadrelay-cli --prefix none | sort -u | wc -l): $deps"
cargo build --release --locked -q -p leadrelay-cli 2>&1 | grep -v "^warning" || true
bin="${CARGO_TARGET_DIR:-$dir/target}/release/leadrelay"
echo "leadrelay binary (release, default features): $(stat -c %s "$bin") bytes"
if grep -q '^admin = ' cli/Cargo.toml 2>/dev/null; then
  deps=$(cargo tree -p leadrelay-cli --no-default-features --prefix none 2>/dev/null | sort -u | wc -l)
  echo "leadrelay-cli dependencies without the admin command (--no-default-features): $deps"
  cargo build --release --locked -q -p leadrelay-cli --no-default-features 2>&1 | grep -v "^warning" || true
  echo "leadrelay binary (release, explain only): $(stat -c %s "$bin") bytes"
fi
