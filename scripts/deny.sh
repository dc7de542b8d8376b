#!/usr/bin/env bash
# Supply-chain check: `cargo deny check` (advisories, licenses, bans, sources) with the
# policy in deny.toml, for the workspace's Cargo.lock: the crates that are deployed.
# The fuzz workspace (fuzz/, its own lock, built only by developers with nightly) is not
# checked here: its lock does not match shared/'s dependencies today, so a --locked check
# would fail on that rather than on policy; `scripts/deny.sh fuzz/Cargo.toml` checks it
# once its lock is brought up to date.
#
#   scripts/deny.sh [MANIFEST...]      default: Cargo.toml
#
# cargo-deny is installed (pinned) into .local-stack/ by scripts/local-stack.sh.
#
# Advisories: by default cargo-deny fetches the RustSec advisory database. Where that
# cannot be reached, set ADVISORY_DB_SNAPSHOT to a directory holding a copy of the
# database's files (its `crates/` and `rust/` folders): the check then runs offline
# against it, and reports what was known as of the snapshot's date. The default is a
# directory `shared/advisory-db` beside the repository, used only if it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

scripts/local-stack.sh install deny
deny="$root/.local-stack/cargo-deny/bin/cargo-deny"

snapshot="${ADVISORY_DB_SNAPSHOT:-$root/../shared/advisory-db}"
config="$root/deny.toml"
offline=()
tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT
if [ -d "$snapshot/crates" ]; then
  tmp="$(mktemp -d)"
  # cargo-deny keeps the default database (its URL hashed) in this folder under db-path,
  # and reads it as a git repository.
  db="$tmp/advisory-dbs/advisory-db-3157b0e258782691"
  mkdir -p "$db"
  cp -R "$snapshot/." "$db/"
  git -C "$db" init -q
  git -C "$db" add -A
  git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost \
    commit -q -m "advisory database snapshot"
  # deny.toml with db-path pointing at the temporary folder.
  awk -v p="$tmp/advisory-dbs" '{ print } /^\[advisories\]/ { print "db-path = \"" p "\"" }' \
    "$root/deny.toml" >"$tmp/deny.toml"
  config="$tmp/deny.toml"
  offline=(--offline)
  echo "deny: advisories from the offline snapshot in $snapshot" >&2
fi

manifests=("$@")
[ ${#manifests[@]} -gt 0 ] || manifests=(Cargo.toml)
for manifest in "${manifests[@]}"; do
  echo "deny: $manifest" >&2
  # Every platform's crates, which cargo-deny reads (offline, it cannot download them).
  cargo fetch --locked --quiet --manifest-path "$manifest"
  "$deny" "${offline[@]}" --locked --manifest-path "$manifest" --config "$config" check \
    --hide-inclusion-graph advisories licenses bans sources
done
