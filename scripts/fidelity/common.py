"""Helpers shared by the fidelity programs: the countdown and its
calibration, as the VM calibrates its own (best of 5 runs of ~3 ms of the
thread's CPU time, so that a core shared with another process does not
make the compute short)."""
import time

# The thread's CPU clock (Python 3.7+), else the wall clock.
_clock = getattr(time, "thread_time_ns", time.perf_counter_ns)


def countdown(n):
    while n > 0:
        n -= 1


def loops_per_ms():
    n = 20_000
    while True:
        t = _clock()
        countdown(n)
        d = _clock() - t
        if d >= 3_000_000:
            break
        n *= 2
    best = 0.0
    for _ in range(5):
        t = _clock()
        countdown(n)
        d = _clock() - t
        best = max(best, n / (d / 1e6))
    return best
