#!/usr/bin/env python3
"""Checks what nodeloop's observation gave for Node.js 18 (tools/node-check.sh).

  node-trace-check.py trace TRACE.json    a NODELOOP_TRACE trace of
                                          test/node/observe-trace.js
  node-trace-check.py http TRACE.json     a trace of test/node/observe-http.js
                                          (the structure, accept/read)
  node-trace-check.py blocked STDERR      NODELOOP_BLOCKED_MS output of
                                          test/node/observe-block.js
  node-trace-check.py stats OUTPUT        NODELOOP_STATS=1 output

Prints one line per expectation ("ok" or "FAIL") and exits 1 if one
fails. The trace format is the one docs/observability.md describes."""
import json
import re
import sys
from collections import defaultdict

EPS = 0.005   # µs: ts and dur are written with 3 decimals

PHASES = ("timers", "pending", "idle", "prepare", "poll", "check", "close")

failures = 0


def expect(ok, what, detail=""):
    global failures
    if ok:
        print("ok    %s" % what)
    else:
        failures += 1
        print("FAIL  %s%s" % (what, (": " + detail) if detail else ""))
    return ok


class Slice:
    __slots__ = ("e", "ts", "end", "parent", "track")

    def __init__(self, e):
        self.e = e
        self.ts = float(e["ts"])
        self.end = self.ts + float(e.get("dur", 0))
        self.parent = None
        self.track = (e["pid"], e["tid"])

    @property
    def name(self):
        return self.e.get("name")

    @property
    def cat(self):
        return self.e.get("cat")

    def args(self):
        return self.e.get("args") or {}

    def enclosing(self, cat):
        p = self.parent
        while p is not None and p.cat != cat:
            p = p.parent
        return p

    def __repr__(self):
        return "%s %r at %.3f+%.3f on tid %s" % (
            self.cat, self.name, self.ts, self.end - self.ts, self.track[1])


def nest(slices):
    """Links each slice to the innermost slice of its track that contains
    it. Returns the pairs that overlap without nesting."""
    bad = []
    by_track = defaultdict(list)
    for s in slices:
        by_track[s.track].append(s)
    for track, lst in by_track.items():
        lst.sort(key=lambda s: (s.ts, -(s.end - s.ts)))
        stack = []
        for s in lst:
            while stack and stack[-1].end <= s.ts + EPS:
                stack.pop()
            if stack and s.end > stack[-1].end + EPS:
                bad.append((stack[-1], s))
            if stack:
                s.parent = stack[-1]
            stack.append(s)
    return bad


def innermost(slices, track, ts):
    """The deepest slice of `track` that contains time ts."""
    best = None
    for s in slices:
        if s.track == track and s.ts - EPS <= ts <= s.end + EPS:
            if best is None or s.ts >= best.ts and s.end <= best.end:
                best = s
    return best


def check_trace(path, full=True):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as err:
        expect(False, "trace is valid JSON", str(err))
        return
    expect(True, "trace is valid JSON (%s)" % path)
    if not expect(isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list),
                  'top level {"traceEvents": [...], ...}'):
        return
    expect(doc.get("displayTimeUnit") == "ms" and
           (doc.get("otherData") or {}).get("producer") == "nodeloop",
           'displayTimeUnit "ms", otherData.producer "nodeloop"')
    events = doc["traceEvents"]
    # Metadata ("M") carries no time.
    missing = [e for e in events
               if not all(k in e for k in ("ph", "pid", "tid")) or
               (e["ph"] != "M" and "ts" not in e)]
    expect(not missing, "every event has ph, pid, tid, and ts but metadata (%d events)" % len(events),
           "%d without, e.g. %s" % (len(missing), missing[:1]))
    events = [e for e in events if e not in missing]

    names = {}
    for e in events:
        if e["ph"] == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = (e.get("args") or {}).get("name", "")
    expect(any(e["ph"] == "M" and e.get("name") == "process_name" for e in events),
           "process_name metadata")
    loops = [k for k, n in names.items() if re.search(r" loop 0x[0-9a-f]+", n)]
    default = [k for k in loops if names[k].endswith("(default loop)")]
    # Where a request's work shows: a pool worker, or (file requests on the
    # loop's io_uring) the track of its ring slot.
    workers = [k for k, n in names.items()
               if re.match(r"nodeloop (worker|io_uring) \d+( of 0x[0-9a-f]+)?$", n)]
    expect(len(default) == 1, "one thread named '... loop 0x... (default loop)'",
           "thread names: %s" % sorted(names.values()))
    expect(workers, "pool worker threads named 'nodeloop worker <n>' or "
           "io_uring tracks 'nodeloop io_uring <n> of 0x...'",
           "thread names: %s" % sorted(names.values()))
    if not default:
        return
    main = default[0]

    slices = [Slice(e) for e in events if e["ph"] == "X"]
    bad = nest(slices)
    expect(not bad, "slices nest properly on every track (%d slices)" % len(slices),
           "%d overlaps, e.g. %s / %s" % (len(bad), bad[0][0], bad[0][1]) if bad else "")
    on_main = [s for s in slices if s.track == main]
    iters = [s for s in on_main if s.cat == "loop" and s.name == "iteration"]
    expect(iters and all("n" in s.args() and "loop" in s.args() for s in iters),
           "iteration slices on the loop thread (%d)" % len(iters))
    phases = [s for s in on_main if s.cat == "phase"]
    expect(phases and all(s.name in PHASES for s in phases),
           "phase slices named after the phases (%d)" % len(phases),
           str(sorted({s.name for s in phases} - set(PHASES))))
    stray = [s for s in phases if s.enclosing("loop") is None]
    expect(not stray, "every phase inside an iteration",
           "%d outside, e.g. %s" % (len(stray), stray[:1]))
    waits = [s for s in on_main if s.cat == "wait"]
    expect(waits and all(s.name == "poll wait" and s.parent is not None and
                         s.parent.cat == "phase" and s.parent.name == "poll"
                         for s in waits),
           "'poll wait' slices inside poll phases (%d)" % len(waits))

    cbs = [s for s in slices if s.cat == "callback"]
    wrong = [s for s in cbs if s.track != main and s.track not in loops]
    expect(not wrong, "callbacks on loop threads only", str(wrong[:1]))
    mismatch = []
    for s in cbs:
        ph = s.enclosing("phase")
        a = s.args()
        if ph is None or a.get("phase") != ph.name or "fn" not in a or "loop" not in a:
            mismatch.append(s)
    expect(not mismatch, "every callback inside a phase, args.phase = that phase, args fn and loop",
           "%d not, e.g. %s args %s" % (len(mismatch), mismatch[0], mismatch[0].args())
           if mismatch else "")

    def cb_in(kind, phases_ok):
        found = [s for s in cbs if s.track == main and s.name == kind]
        inside = [s for s in found if (s.enclosing("phase") or s).name in phases_ok]
        expect(inside, "a '%s' callback in phase %s" % (kind, " or ".join(phases_ok)),
               "%d '%s' callbacks, in phases %s" % (
                   len(found), kind,
                   sorted({(s.enclosing("phase") or s).name for s in found})))
        return inside

    if not full:   # small answers: written by uv_try_write, no callback
        for k in ("accept", "read"):
            cb_in(k, ["poll"])
        return
    cb_in("timer", ["timers"])
    cb_in("check", ["check"])
    for k in ("connect", "accept", "read"):
        cb_in(k, ["poll"])
    cb_in("write", ["poll", "pending"])

    # Pool round trips: s on the loop thread, t on a worker inside the
    # work slice, f (bp e) on the loop thread at the completion callback.
    # A request used again (or its memory) gives the same id: each "s"
    # starts a new flow of that id, in time order.
    by_id = defaultdict(list)
    for e in events:
        if e.get("cat") == "pool" and e["ph"] in ("s", "t", "f"):
            by_id[e.get("id")].append(e)
    flows = []
    order = {"s": 0, "t": 1, "f": 2}
    for fid, lst in by_id.items():
        lst.sort(key=lambda e: (float(e["ts"]), order[e["ph"]]))
        for e in lst:
            if e["ph"] == "s" or not flows or flows[-1][0] != fid:
                flows.append((fid, {}))
            flows[-1][1].setdefault(e["ph"], e)
    works = [s for s in slices if s.cat == "work"]
    expect(works and all(s.track in workers for s in works) and
           all("queued_us" in s.args() for s in works),
           "work slices on worker or io_uring tracks with args.queued_us (%d)" % len(works))
    for op in ("fs:open", "fs:fstat", "fs:read", "fs:close"):
        done = cb_in(op, ["poll"])
        linked = []
        why = "no flow ends at a '%s' completion callback" % op
        for fid, fl in flows:
            if not all(p in fl for p in "stf"):
                continue
            s, t, f = fl["s"], fl["t"], fl["f"]
            if f.get("bp") != "e" or (s["pid"], s["tid"]) != main or \
               (f["pid"], f["tid"]) != main:
                continue
            cb = innermost(done, main, float(f["ts"]))
            if cb is None:
                continue
            w = innermost(works, (t["pid"], t["tid"]), float(t["ts"]))
            if w is None or w.name != op:
                why = "flow %s: t not inside a '%s' work slice" % (fid, op)
                continue
            if not float(s["ts"]) <= float(t["ts"]) + EPS <= float(f["ts"]) + 2 * EPS:
                why = "flow %s: s, t, f out of order" % fid
                continue
            linked.append(fid)
        expect(linked, "'%s' work on a worker or the ring linked by a flow s/t/f to its completion" % op,
               why)

    counters = [e for e in events if e["ph"] == "C" and
                str(e.get("name", "")).startswith("loop 0x")]
    expect(counters and all(
        {"active_handles", "active_reqs", "pool_queue"} <= set((e.get("args") or {}))
        for e in counters), "counters 'loop 0x...' per iteration (%d)" % len(counters))
    cats = defaultdict(int)
    for e in events:
        cats[e.get("cat") or e["ph"]] += 1
    print("      events by category: " +
          ", ".join("%s %d" % kv for kv in sorted(cats.items())))


def check_blocked(path):
    text = open(path, errors="replace").read()
    lines = text.splitlines()
    rep = [l for l in lines if re.search(r"^nodeloop: loop 0x[0-9a-f]+ blocked for [0-9.]+ ms", l)]
    expect(len(rep) == 1, "one blocked-loop report on stderr", "stderr: %r" % text[:300])
    expect(any(re.search(r"timer callback node::Environment::RunTimers.* in phase timers$", l)
               for l in rep),
           "the report names the kind 'timer', Node's RunTimers and the phase 'timers'")
    ends = [float(m.group(1)) for m in
            (re.search(r" ended after ([0-9.]+) ms$", l) for l in lines) if m]
    expect(len(ends) == 1 and ends[0] >= 300.0,
           "one end line with the callback's total (>= 300 ms)", "ends: %r" % ends)
    frames = [l for l in lines if re.search(r"(^\s*#\s*\d+)|0x[0-9a-f]{6,}", l)]
    expect(len(frames) >= 2, "the report has the loop thread's stack (%d frames)" % len(frames))


def check_stats(path):
    text = open(path, errors="replace").read()
    expect(re.search(r"iteration", text, re.I),
           "a NODELOOP_STATS table (iterations)", "output: %r" % text[-300:])
    missing = [p for p in PHASES if not re.search(r"\b%s\b" % p, text)]
    expect(not missing, "the table has a row for every phase", "missing %s" % missing)


def main():
    modes = {"trace": check_trace, "http": lambda p: check_trace(p, False),
             "blocked": check_blocked, "stats": check_stats}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    modes[sys.argv[1]](sys.argv[2])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
