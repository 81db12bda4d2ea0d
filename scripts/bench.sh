#!/bin/sh
# make bench: every side-by-side benchmark against the reference that exists.
set -eu
cd "$(dirname "$0")/.."
for s in scripts/bench-*.sh; do
  [ -x "$s" ] || continue
  echo "=== $s"
  "$s"
done
