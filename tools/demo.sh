#!/bin/sh
# Runs the demo programs of examples/ from a build directory.
set -e
dir=${1:-build}
for ex in threads phases pool; do
  echo "=== examples/$ex.c"
  "$dir/examples/$ex"
  echo
done
