#!/usr/bin/env bash
# The README's test command twice in a row with both cores kept busy by a CPU hog each (at nice 10, so the suite
# still gets most of the machine): a test that passes only on an idle machine, or only once, fails here.
# Issue #15 asks for it; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
HOGS=()
for _ in 1 2; do nice -n 10 sh -c 'while :; do :; done' & HOGS+=("$!"); done
trap 'kill "${HOGS[@]}" 2>/dev/null || true' EXIT
for run in 1 2; do
  echo "== npm test, run $run of 2, beside ${#HOGS[@]} CPU hogs =="
  npm test
done
