"""Native calls: THREADS threads each make CALLS calls of about CALL_MS of
C code, which releases the GIL (hashlib.sha256 of a large buffer: CPython
releases the GIL while hashing more than 2 KiB) or keeps it (sum(range(N)):
the builtin's C loop checks no eval breaker). The buffer or N is sized by a
calibration in this process (best of 5, on the thread's CPU clock). usage: native.py release|hold
THREADS CALLS CALL_MS; prints JSON with the wall time in ms."""
import hashlib
import json
import sys
import threading
import time


def calibrate(f, size):
    # The thread's CPU time, as the VM's native calls burn CPU time.
    clock = getattr(time, "thread_time_ns", time.perf_counter_ns)
    best = float("inf")
    for _ in range(5):
        t = clock()
        f(size)
        best = min(best, clock() - t)
    return size / (best / 1e6)  # units per ms


def main():
    kind, n, calls, call_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    if kind == "release":
        big = b"x" * (64 << 20)
        mv = memoryview(big)

        def f(size):
            hashlib.sha256(mv[:size]).digest()

        per_ms = calibrate(f, 4 << 20)
        size = min(int(per_ms * call_ms), len(big))
    else:

        def f(size):
            sum(range(size))

        per_ms = calibrate(f, 1 << 20)
        size = int(per_ms * call_ms)

    def work():
        for _ in range(calls):
            f(size)

    ts = [threading.Thread(target=work) for _ in range(n)]
    t = time.perf_counter_ns()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    wall = (time.perf_counter_ns() - t) / 1e6
    print(json.dumps({"kind": kind, "threads": n, "size": size, "wall_ms": wall}))


if __name__ == "__main__":
    main()
