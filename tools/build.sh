#!/bin/sh
# Builds a configured CMake tree quietly: the compiler's warnings and
# errors if there are any, else one summary line. The whole log stays in
# DIR/build.log.
#   tools/build.sh DIR JOBS
set -u
dir=$1
jobs=${2:-2}
log=$dir/build.log
start=$(date +%s)
if cmake --build "$dir" -j "$jobs" >"$log" 2>&1; then
  grep -E "warning:|note:" "$log" || true
  targets=$(grep -c "^\[.*\] Built target" "$log")
  echo "build: $dir/ ready ($targets targets, $(($(date +%s) - start)) s; full log in $log)"
else
  grep -E -A3 "error:|warning:|Error [0-9]|undefined reference" "$log" ||
    tail -n 40 "$log"
  echo "build: $dir FAILED (full log in $log)" >&2
  exit 1
fi
