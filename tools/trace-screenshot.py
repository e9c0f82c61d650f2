#!/usr/bin/env python3
"""trace-screenshot.py TRACE.json OUT.js [LOOP|-] [FROM_MS:TO_MS]: the part of a nodeloop
trace that tools/trace-screenshot.sh shows, as the script speedscope loads
(speedscope.loadFileFromBase64, what speedscope's own command line
writes).

Speedscope shows one thread at a time and labels a slice with its name
followed by all its args as JSON, so this keeps one loop thread (the
default loop's, or the loop whose address is LOOP, or else the first
thread with iterations) and relabels its slices: "iteration",
the phase names, "poll wait", and each callback as its kind followed by
its function's symbol ("timer tick_timer_cb"). Flows and counters are
dropped (speedscope does not draw them). FROM_MS:TO_MS keeps that time
window, in ms from the track's first slice (slices cut at its edges)."""
import base64
import json
import os
import sys


def main():
    if len(sys.argv) not in (3, 4, 5):
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    want = sys.argv[3] if len(sys.argv) >= 4 and sys.argv[3] != "-" else None
    window = None
    if len(sys.argv) == 5 and sys.argv[4]:
        a, b = sys.argv[4].split(":")
        window = (float(a) * 1000, float(b) * 1000)
    with open(src) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc

    names = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e.get("args", {}).get("name", "")
    track = None
    for key, name in sorted(names.items()):
        if " loop 0x" not in name:
            continue
        if want is not None:
            if ("loop " + want) in name:
                track = key
                break
        elif "(default loop)" in name:
            track = key
            break
    if track is None:
        for e in events:
            if e.get("ph") == "X" and e.get("name") == "iteration":
                if want is None or e.get("args", {}).get("loop") == want:
                    track = (e["pid"], e["tid"])
                    break
    if track is None:
        sys.exit("trace-screenshot: no loop thread in %s" % src)

    out = []
    for e in events:
        if (e.get("pid"), e.get("tid")) != track:
            continue
        ph = e.get("ph")
        if ph == "M" and e.get("name") == "thread_name":
            out.append(e)
        elif ph == "X":
            name = e.get("name", "?")
            args = e.get("args") or {}
            if e.get("cat") == "callback" and args.get("symbol"):
                name = "%s %s" % (name, args["symbol"])
            elif e.get("cat") == "callback" and args.get("fn"):
                name = "%s %s" % (name, args["fn"])
            out.append({"ph": "X", "pid": e["pid"], "tid": e["tid"],
                        "ts": e["ts"], "dur": e.get("dur", 0), "name": name})
    if window is not None:
        first = min(e["ts"] for e in out if e["ph"] == "X")
        lo, hi = first + window[0], first + window[1]
        kept = []
        for e in out:
            if e["ph"] == "X":
                start, end = max(e["ts"], lo), min(e["ts"] + e["dur"], hi)
                if end <= start:
                    continue
                e["ts"], e["dur"] = start, end - start
            kept.append(e)
        out = kept
    if not any(e["ph"] == "X" for e in out):
        sys.exit("trace-screenshot: no slices on the loop thread")
    # Also the process name, for the title speedscope gives the track.
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "process_name" and \
           e.get("pid") == track[0]:
            out.append(e)
            break
    data = json.dumps({"traceEvents": out}).encode()
    with open(dst, "w") as f:
        f.write("speedscope.loadFileFromBase64(%s, %s)\n" % (
            json.dumps(os.path.basename(src)),
            json.dumps(base64.b64encode(data).decode())))


if __name__ == "__main__":
    main()
