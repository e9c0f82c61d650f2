#!/usr/bin/env python3
"""Checks a NODELOOP_TRACE file (Trace Event JSON, see src/trace.c).

usage: trace-check.py FILE [options]
  --callbacks         callback slices must be present
  --no-callbacks      there must be no callback slices (phases still)
  --flow NAME         a complete flow submit -> work -> completion whose
                      work slice is named NAME (repeatable)
  --symbol NAME       a timer callback slice shows symbol NAME
  --no-symbol NAME    no callback shows symbol NAME
  --loops N           exactly N loop tracks
  --default-loop      exactly one loop track is the default loop
  --min-cb KIND=N     at least N callback slices named KIND
Always checked: the top level, event fields, one thread_name per track,
slices nest per track, phases in the loop's order inside each iteration,
each callback inside a phase slice of the phase its args name, counters
for every loop. Exits 0 if all hold, 1 with the reasons otherwise.
"""
import argparse
import collections
import json
import sys

PHASES = ["timers", "pending", "idle", "prepare", "poll", "check", "close"]
errors = []


def fail(msg):
    errors.append(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--callbacks", action="store_true")
    ap.add_argument("--no-callbacks", action="store_true")
    ap.add_argument("--flow", action="append", default=[])
    ap.add_argument("--symbol")
    ap.add_argument("--no-symbol")
    ap.add_argument("--loops", type=int)
    ap.add_argument("--default-loop", action="store_true")
    ap.add_argument("--min-cb", action="append", default=[])
    a = ap.parse_args()

    with open(a.file) as f:
        doc = json.load(f)   # raises (exit 1) if not valid JSON
    if set(doc) != {"traceEvents", "displayTimeUnit", "otherData"}:
        fail("top-level keys %s" % sorted(doc))
    if doc.get("displayTimeUnit") != "ms" or \
            doc.get("otherData") != {"producer": "nodeloop"}:
        fail("top-level values")
    ev = doc["traceEvents"]
    pids = {e.get("pid") for e in ev}
    if len(pids) != 1:
        fail("pids %s" % pids)

    names = {}
    procs = 0
    for e in ev:
        for k in ("ph", "pid", "tid", "name"):
            if k not in e:
                fail("event without %s: %s" % (k, e))
        if e["ph"] != "M" and not isinstance(e.get("ts"), (int, float)):
            fail("event without ts: %s" % e)
        if e["ph"] == "M" and e["name"] == "process_name":
            procs += 1
        if e["ph"] == "M" and e["name"] == "thread_name":
            if e["tid"] in names:
                fail("two thread names for tid %d" % e["tid"])
            names[e["tid"]] = e["args"]["name"]
    if procs != 1:
        fail("%d process_name events" % procs)
    for e in ev:
        if e["ph"] != "M" and e["tid"] not in names:
            fail("tid %d has no thread_name" % e["tid"])
            break

    loop_tids = {t for t, n in names.items() if " loop 0x" in n or
                 n.startswith("loop 0x")}
    # A flow's middle step runs on a pool worker, or in the kernel for an
    # io_uring request (one track per ring slot).
    worker_tids = {t for t, n in names.items()
                   if n.startswith("nodeloop worker ") or
                   n.startswith("nodeloop io_uring ")}
    if a.loops is not None and len(loop_tids) != a.loops:
        fail("%d loop tracks, expected %d: %s" % (len(loop_tids), a.loops,
                                                 names))
    defaults = [t for t in loop_tids if names[t].endswith(" (default loop)")]
    if a.default_loop and len(defaults) != 1:
        fail("default loop tracks: %s" % [names[t] for t in defaults])

    # Slices per track nest (no partial overlap). Times are in ns, exact.
    def ns(x):
        return round(x * 1000)

    slices = collections.defaultdict(list)
    for e in ev:
        if e["ph"] == "X":
            if e["dur"] < 0:
                fail("negative dur %s" % e)
            slices[e["tid"]].append((ns(e["ts"]), ns(e["ts"]) + ns(e["dur"]), e))
    parent = {}
    for tid, ss in slices.items():
        ss.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for s in ss:
            while stack and stack[-1][1] <= s[0]:
                # Slices that meet at one instant are nested one in the
                # other by some viewers (speedscope): never written.
                if stack[-1][1] == s[0] and stack[-1][0] < s[0]:
                    fail("slices meet at one instant on tid %d: %s and %s" %
                         (tid, stack[-1][2], s[2]))
                stack.pop()
            if stack and s[1] > stack[-1][1]:
                fail("partial overlap on tid %d: %s and %s" %
                     (tid, stack[-1][2], s[2]))
            parent[id(s[2])] = [x[2] for x in stack]
            stack.append(s)

    # Phases inside each iteration, in the loop's order.
    iters = 0
    for tid, ss in slices.items():
        for s in ss:
            e = s[2]
            if e["name"] != "iteration":
                continue
            iters += 1
            inner = [x[2]["name"] for x in ss
                     if x[2].get("cat") == "phase" and s[0] <= x[0] and
                     x[1] <= s[1] and x[2]["args"]["loop"] == e["args"]["loop"]
                     and parent[id(x[2])] and parent[id(x[2])][-1] is e]
            if inner != PHASES and inner != PHASES + ["timers"]:
                fail("iteration %s has phases %s" % (e["args"], inner))
        for s in ss:
            e = s[2]
            if e.get("cat") == "wait":
                p = parent[id(e)]
                if not p or p[-1].get("name") != "poll":
                    fail("poll wait outside the poll phase: %s" % e)

    # Callbacks inside their phase.
    cbs = [e for e in ev if e.get("cat") == "callback"]
    for e in cbs:
        ph = [p for p in parent[id(e)] if p.get("cat") == "phase"]
        if not ph or ph[-1]["name"] != e["args"]["phase"]:
            fail("callback %s not inside a %s phase" % (e, e["args"]["phase"]))
        if e["tid"] not in loop_tids:
            fail("callback on a track that is not a loop's: %s" % e)
    phases = [e for e in ev if e.get("cat") == "phase"]
    if iters == 0 or not phases:
        fail("no iterations or phases")
    if a.callbacks and not cbs:
        fail("no callback slices")
    if a.no_callbacks and cbs:
        fail("%d callback slices with callbacks off" % len(cbs))
    for spec in a.min_cb:
        kind, n = spec.split("=")
        got = sum(1 for e in cbs if e["name"] == kind)
        if got < int(n):
            fail("%d callbacks named %s, expected at least %s" % (got, kind, n))

    if a.symbol and not any(e["name"] == "timer" and
                            e["args"].get("symbol") == a.symbol for e in cbs):
        fail("no timer callback with symbol %s" % a.symbol)
    if a.no_symbol and any(e["args"].get("symbol") == a.no_symbol for e in cbs):
        fail("symbol %s present" % a.no_symbol)

    # Flows: submit on a loop thread, step at a work slice's start on a
    # worker, finish at a callback slice's start back on the loop thread.
    flows = collections.defaultdict(lambda: collections.defaultdict(list))
    for e in ev:
        if e.get("cat") == "pool" and e["ph"] in "stf":
            if e.get("name") != "pool" or not e.get("id", "").startswith("0x"):
                fail("bad flow event %s" % e)
            flows[e["id"]][e["ph"]].append(e)
    starts = {}
    for tid, ss in slices.items():
        for s in ss:
            starts.setdefault((tid, s[0]), []).append(s[2])
    complete = collections.Counter()
    for fid, f in flows.items():
        # Request addresses are reused: match each s with the next t and f.
        for s in sorted(f["s"], key=lambda e: e["ts"]):
            t = min((x for x in f["t"] if x["ts"] >= s["ts"]),
                    key=lambda x: x["ts"], default=None)
            if t is None:
                continue
            fin = min((x for x in f["f"] if x["ts"] >= t["ts"]),
                      key=lambda x: x["ts"], default=None)
            if fin is None:
                continue
            work = [x for x in starts.get((t["tid"], ns(t["ts"])), [])
                    if x.get("cat") == "work"]
            cb = [x for x in starts.get((fin["tid"], ns(fin["ts"])), [])
                  if x.get("cat") == "callback"]
            if s["tid"] not in loop_tids or fin["tid"] != s["tid"]:
                fail("flow %s not from and back to one loop thread" % fid)
            elif t["tid"] not in worker_tids:
                fail("flow %s step not on a worker" % fid)
            elif not work or not cb or fin.get("bp") != "e":
                fail("flow %s does not bind to work %s / callback %s" %
                     (fid, work, cb))
            elif work[0]["args"]["loop"] != cb[0]["args"]["loop"]:
                fail("flow %s work and callback of different loops" % fid)
            else:
                complete[work[0]["name"]] += 1
    for name in a.flow:
        if complete[name] == 0:
            fail("no complete flow for %s (have %s)" % (name, dict(complete)))

    # Counters for every loop that ran an iteration.
    loops = {e["args"]["loop"] for e in ev if e.get("name") == "iteration"}
    for lp in loops:
        cs = [e for e in ev if e["ph"] == "C" and e["name"] == "loop " + lp]
        if not cs:
            fail("no counters for loop %s" % lp)
        for c in cs[:1]:
            if set(c["args"]) != {"active_handles", "active_reqs", "pool_queue"}:
                fail("counter args %s" % c["args"])

    if errors:
        for m in errors[:20]:
            print("trace-check:", m, file=sys.stderr)
        sys.exit(1)
    print("trace-check: ok: %d events, %d iterations, %d callbacks, "
          "flows %s" % (len(ev), iters, len(cbs), dict(complete)))


if __name__ == "__main__":
    main()
