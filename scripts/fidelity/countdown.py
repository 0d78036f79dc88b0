"""Beazley's countdown: 2 workers of N loops, as threads, back to back
(sequential) or as processes. usage: countdown.py MODE N; prints JSON with
the wall time in ms (for processes, from when both are ready to when the
last one's countdown ended, with their start-up and their exit apart)."""
import json
import multiprocessing
import sys
import threading
import time

from common import countdown


def worker(i, n, ready, done):
    ready.wait()
    countdown(n)
    # perf_counter is CLOCK_MONOTONIC here: one clock for every process.
    done[i] = time.perf_counter_ns()


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    startup = None
    if mode == "processes":
        # The processes are started first and timed from when both are
        # ready: the VM's processes exist before its run, so their start-up
        # (fork, here a few milliseconds each) is reported apart.
        # They are timed to the end of the last countdown, as the VM's
        # run ends with its last thread's, and their exit (the child's
        # interpreter shutting down, the parent's join: several
        # milliseconds) is reported apart too.
        ready = multiprocessing.Barrier(3)
        done = multiprocessing.Array("q", 2)
        ps = [multiprocessing.Process(target=worker, args=(i, n, ready, done)) for i in range(2)]
        t0 = time.perf_counter_ns()
        for p in ps:
            p.start()
        ready.wait()
        t = time.perf_counter_ns()
        startup = (t - t0) / 1e6
        for p in ps:
            p.join()
        joined = time.perf_counter_ns()
        end = max(done[:])
        out = {"mode": mode, "loops": n, "wall_ms": (end - t) / 1e6, "startup_ms": startup, "exit_ms": (joined - end) / 1e6}
        print(json.dumps(out))
        return
    elif mode == "threads":
        ts = [threading.Thread(target=countdown, args=(n,)) for _ in range(2)]
        t = time.perf_counter_ns()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
    else:
        t = time.perf_counter_ns()
        countdown(n)
        countdown(n)
    wall = (time.perf_counter_ns() - t) / 1e6
    out = {"mode": mode, "loops": n, "wall_ms": wall}
    if startup is not None:
        out["startup_ms"] = startup
    print(json.dumps(out))


if __name__ == "__main__":
    main()
