"""Handoffs between CPU-bound threads, measured from inside CPython.

usage: handoff.py THREADS INTERVAL_MS SECONDS

THREADS threads spin until a common deadline, each reading
time.perf_counter_ns() at every iteration of its loop. A gap of more than
GAP_NS between two readings of a thread is a time it did not run: it lost
the GIL (or the operating system descheduled it). The threads' running
segments are merged on one timeline: a switch is a segment of another
thread following the segment of one, a holding period a maximal run of
segments of one thread (so a thread descheduled by the OS while holding the
GIL, during which no other thread ran, keeps one holding period). The VM is
measured the same way from its trace (vm/fidelity_cpython_test.go, holds).

Prints JSON: switches per second, the median holding period in ms, the
fairness (the smallest thread's running time over the largest one's, in
each second of the window, averaged over the seconds), and the median handoff gap in µs (from the last iteration of a
holder to the first of the next: noticing the drop request, dropping the
GIL, waking the next thread), over the window in which every thread ran.
"""
import json
import sys
import threading
import time

GAP_NS = 30_000
FAIR_WINDOW_NS = 1_000_000_000


def worker(deadline, out):
    pc = time.perf_counter_ns
    start = last = pc()
    segs = []
    while True:
        now = pc()
        if now - last > GAP_NS:
            segs.append((start, last))
            start = now
        last = now
        if now >= deadline:
            break
    segs.append((start, last))
    out.extend(segs)


def figures(per_thread):
    """per_thread: list of lists of (start, end) ns. Same as handoffFigures in Go."""
    lo = max(s[0][0] for s in per_thread)
    hi = min(s[-1][1] for s in per_thread)
    segs = []
    for i, ss in enumerate(per_thread):
        for a, b in ss:
            a, b = max(a, lo), min(b, hi)
            if b > a:
                segs.append((a, b, i))
    segs.sort()
    runs = []  # (thread, start, end)
    for a, b, i in segs:
        if runs and runs[-1][0] == i:
            runs[-1][2] = b
        else:
            runs.append([i, a, b])
    switches = len(runs) - 1
    holds = sorted(r[2] - r[1] for r in runs[1:-1])
    gaps = sorted(b[1] - a[2] for a, b in zip(runs, runs[1:]))
    span = hi - lo
    # Fairness per window of about FAIR_WINDOW_NS (the span cut into the
    # nearest whole number of equal windows, at least one), averaged: one
    # second's figure moves a lot from run to run (at 5 ms with 4 threads a
    # second holds about 50 holding periods per thread), the mean of
    # several seconds' much less.
    nwin = max(1, (span + FAIR_WINDOW_NS // 2) // FAIR_WINDOW_NS)
    fair = []
    for w in range(nwin):
        wa, wb = lo + span * w // nwin, lo + span * (w + 1) // nwin
        busy = [0] * len(per_thread)
        for a, b, i in segs:
            a, b = max(a, wa), min(b, wb)
            if b > a:
                busy[i] += b - a
        fair.append(min(busy) / max(busy) if max(busy) > 0 else 0)
    return {
        "switches_per_s": switches / (span / 1e9) if span > 0 else 0,
        "hold_median_ms": holds[len(holds) // 2] / 1e6 if holds else 0,
        "fairness": sum(fair) / len(fair) if span > 0 else 0,
        "fairness_windows": len(fair) if span > 0 else 0,
        "gap_median_us": gaps[len(gaps) // 2] / 1e3 if gaps else 0,
        "window_ms": span / 1e6,
    }


def main():
    n, interval_ms, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    sys.setswitchinterval(interval_ms / 1000)
    deadline = time.perf_counter_ns() + int(seconds * 1e9)
    outs = [[] for _ in range(n)]
    ts = [threading.Thread(target=worker, args=(deadline, outs[i])) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    r = figures(outs)
    r.update(threads=n, interval_ms=interval_ms, python=sys.version.split()[0])
    print(json.dumps(r))


if __name__ == "__main__":
    main()
