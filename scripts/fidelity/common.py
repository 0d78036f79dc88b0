"""Helpers shared by the fidelity programs: the countdown and its
calibration, as the VM calibrates its own (best of 5 runs of ~3 ms)."""
import time


def countdown(n):
    while n > 0:
        n -= 1


def loops_per_ms():
    n = 20_000
    while True:
        t = time.perf_counter_ns()
        countdown(n)
        d = time.perf_counter_ns() - t
        if d >= 3_000_000:
            break
        n *= 2
    best = 0.0
    for _ in range(5):
        t = time.perf_counter_ns()
        countdown(n)
        d = time.perf_counter_ns() - t
        best = max(best, n / (d / 1e6))
    return best
