"""Beazley's countdown: 2 workers of N loops, as threads, back to back
(sequential) or as processes. usage: countdown.py MODE N; prints JSON with
the wall time in ms."""
import json
import multiprocessing
import sys
import threading
import time

from common import countdown


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "processes":
        ps = [multiprocessing.Process(target=countdown, args=(n,)) for _ in range(2)]
        t = time.perf_counter_ns()
        for p in ps:
            p.start()
        for p in ps:
            p.join()
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
    print(json.dumps({"mode": mode, "loops": n, "wall_ms": wall}))


if __name__ == "__main__":
    main()
