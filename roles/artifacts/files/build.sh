#!/usr/bin/env bash
# Run one artifact build recipe (build-<recipe>.sh beside this file) in a scratch directory
# that is always removed afterwards (Go's caches reach ~4 GB).
# Usage: build.sh RECIPE OUT_DIR LOCK_DIR; the recipe's settings come from the environment.
# Go builds take LOCK_DIR/go.lock so that only one runs at a time (each uses every core).
set -euo pipefail
recipe=$1
export OUT=$2
lock_dir=$3
here=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stackyard-build-$recipe.XXXXXX")
export WORK
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$OUT" "$lock_dir"
label="$recipe${GO_BINARY:+ $GO_BINARY}"
if [[ $recipe == go ]]; then
  echo "[build] $label: waiting for the Go build lock ($lock_dir/go.lock)"
  exec 9>"$lock_dir/go.lock"
  flock 9
fi
start=$(date +%s)
echo "[build] $label started $(date -u +%FT%TZ) in $WORK"
"$here/build-$recipe.sh"
echo "[build] $label done in $(($(date +%s) - start)) s"
