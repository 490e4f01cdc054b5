#!/bin/bash
# One benchmark run with each library in its own process, one after the
# other, all writing to the same criterion directory: Tessera first (with
# the floor units), then openmls, then mls-rs. Arguments after the script
# name go to criterion (a filter, --measurement-time, ...); the TESSERA_BENCH_*
# variables apply to every library. See README.md, "One process per library".
#
#   benches/compare/isolated.sh '^(update-process-fresh)/' --warm-up-time 1 --measurement-time 4
#   python3 benches/compare/report.py
set -euo pipefail
cd "$(dirname "$0")/../.."
filter="${1:-}"
shift || true
libs="${TESSERA_BENCH_ISOLATED_LIBS:-tessera openmls mls-rs}"
for lib in $libs; do
  f="$filter"
  # The floor units are measured once, in Tessera's process.
  if [ "$lib" = tessera ] && [ -n "$f" ]; then
    f="^floor/|$f"
  fi
  echo "== $lib ($(date -u +%T))" >&2
  TESSERA_BENCH_LIBS="$lib" cargo bench -p tessera-bench -- ${f:+"$f"} "$@"
done
echo "== done ($(date -u +%T))" >&2
