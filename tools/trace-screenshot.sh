#!/bin/sh
# tools/trace-screenshot.sh [--size WxH] [--window FROM:TO] [--loop 0xADDR]
#                           TRACE.json OUT.png
#   --size WxH       the picture (default 1600x420)
#   --window FROM:TO only that time window, in ms from the loop thread's
#                    first slice (default: the whole run)
#   --loop 0xADDR    that loop's thread (default: the default loop's)
#
# A picture of a nodeloop trace (NODELOOP_TRACE): the loop thread's track
# in speedscope's "Time Order" view (iterations, their phases, the
# callbacks inside them), rendered offline by headless Chromium.
# Run by hand (not part of make check). It installs what it needs if
# missing: Debian's chromium with apt-get (needs root), and npm's
# speedscope into build/screenshot/ (npm install --prefix; nothing global).
#
# How: speedscope's own command line writes a script that calls
# speedscope.loadFileFromBase64(name, base64) and opens its
# dist/release/index.html#localProfilePath=<that script>; we do the same,
# with Chromium's --headless --screenshot instead of a desktop browser.
# Before that, tools/trace-screenshot.py makes the slice names readable
# (speedscope labels a slice with its name and all its args): callbacks
# become "timer tick_timer_cb", and the loop thread is put first, the
# track speedscope shows when it opens.
set -eu
usage() {
  echo "usage: $0 [--size WxH] [--window FROM_MS:TO_MS] [--loop 0xADDR] TRACE.json OUT.png" >&2
  exit 2
}
size=1600x420
window=""
loop=-
while [ $# -gt 0 ]; do
  case $1 in
    --size) [ $# -ge 2 ] || usage; size=$2; shift 2;;
    --window) [ $# -ge 2 ] || usage; window=$2; shift 2;;
    --loop) [ $# -ge 2 ] || usage; loop=$2; shift 2;;
    -*) usage;;
    *) break;;
  esac
done
[ $# = 2 ] || usage
trace=$1
out=$2
case $size in [0-9]*x[0-9]*) ;; *) usage;; esac
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
dir=$top/build/screenshot
ss=$dir/node_modules/speedscope/dist/release

[ -f "$trace" ] || { echo "trace-screenshot: no such file: $trace" >&2; exit 1; }

chrome=$(command -v chromium || true)
if [ -z "$chrome" ] || ! command -v npm >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "trace-screenshot: needs root to install chromium/npm" >&2; exit 1; }
  need=""
  [ -n "$chrome" ] || need="$need chromium"
  command -v npm >/dev/null 2>&1 || need="$need npm"
  echo "trace-screenshot: installing$need (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  nice -n 19 apt-get install -y -qq --no-install-recommends $need >/dev/null
  chrome=$(command -v chromium)
fi
if [ ! -f "$ss/index.html" ]; then
  echo "trace-screenshot: installing speedscope into build/screenshot/ (npm)"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error speedscope >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/trace-screenshot.py" "$trace" "$work/profile.js" "$loop" "$window"

# Speedscope draws with WebGL: SwiftShader renders it without a GPU.
# --virtual-time-budget lets the page load the profile and draw before
# the screenshot is taken.
w=${size%x*}
h=${size#*x}
no_sandbox=""
[ "$(id -u)" = 0 ] && no_sandbox="--no-sandbox"
# shellcheck disable=SC2086
nice -n 19 "$chrome" --headless $no_sandbox --disable-gpu-sandbox \
  --use-angle=swiftshader --enable-unsafe-swiftshader \
  --allow-file-access-from-files --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size="$w,$h" \
  --virtual-time-budget=10000 --screenshot="$work/shot.png" \
  "file://$ss/index.html#localProfilePath=$work/profile.js&view=time-ordered" \
  >"$work/chrome.log" 2>&1 || {
    cat "$work/chrome.log" >&2
    echo "trace-screenshot: chromium failed" >&2
    exit 1
  }
[ -s "$work/shot.png" ] || { cat "$work/chrome.log" >&2; echo "trace-screenshot: no screenshot" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cp "$work/shot.png" "$out"
echo "trace-screenshot: $out ($size, speedscope $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/speedscope/package.json"))"
