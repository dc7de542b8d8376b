#!/usr/bin/env bash
# Release-builds every function (and bench/hello) with cargo-lambda, as `sam build` does,
# and prints the size of each bootstrap.
#
#   bench/build-sizes.sh                 x86-64 only (builds offline)
#   bench/build-sizes.sh x86-64 arm64    both; arm64 needs the aarch64 std, which
#                                        cargo-lambda fetches with rustup if it is missing
#
# Bootstraps land in $CARGO_TARGET_DIR/lambda-<arch>/<binary>/bootstrap (default target/),
# where bench/coldstart.py finds the x86-64 ones. A cold build takes minutes per
# architecture (release profile: lto, one codegen unit, stripped).
set -euo pipefail
cd "$(dirname "$0")/.."

binaries=(ingest deliver logs admin hello)
packages=(-p ingest -p deliver -p logs -p admin -p bench-hello)
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86-64)

scripts/local-stack.sh install lambda
export PATH="$PWD/.local-stack/venv/bin:$PATH"
target="${CARGO_TARGET_DIR:-$PWD/target}"

rows=()
for arch in "${archs[@]}"; do
  case "$arch" in
    x86-64 | arm64) ;;
    *) echo "unknown architecture '$arch' (x86-64, arm64)" >&2; exit 2 ;;
  esac
  dir="$target/lambda-$arch"
  echo "== cargo lambda build --release --$arch" >&2
  start=$(date +%s)
  cargo lambda build --release --"$arch" --locked --lambda-dir "$dir" "${packages[@]}" >&2
  echo "   built in $(( $(date +%s) - start )) s" >&2
  for bin in "${binaries[@]}"; do
    file="$dir/$bin/bootstrap"
    bytes=$(stat -c %s "$file")
    kind=-
    if command -v file >/dev/null; then kind=$(file -b "$file" | cut -d, -f1-2); fi
    mib=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
    rows+=("$(printf '| %-8s | %-6s | %10d | %6s | %s |' "$bin" "$arch" "$bytes" "$mib" "$kind")")
  done
done

echo "| binary   | arch   |      bytes |    MiB | file |"
echo "|----------|--------|-----------:|-------:|------|"
printf '%s\n' "${rows[@]}"
