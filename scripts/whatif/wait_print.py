# 2 CPU-bound tasks on a ThreadPoolExecutor of 2, awaited with `concurrent.futures.wait(fs,
# timeout=0.1)` in a loop that prints its progress between the waits, then 4 M of the main
# thread's own countdown: docs/diagnosis.md's timeouts in a loop. "proc" runs the tasks on a
# ProcessPoolExecutor, for the ground truth: `python3 wait_print.py` against `... proc`.
import sys, time, concurrent.futures as cf
def work(n):
    while n: n -= 1
    return n
if __name__ == "__main__":
    t0 = time.perf_counter()
    P = cf.ProcessPoolExecutor if "proc" in sys.argv[1:] else cf.ThreadPoolExecutor
    with P(2) as ex:
        fs = [ex.submit(work, 16_000_000) for _ in range(2)]
        while True:
            done, pending = cf.wait(fs, timeout=0.1)
            print(f"{len(done)}/{len(fs)}", file=sys.stderr)
            if not pending: break
        work(4_000_000)
    print(f"wait_print: {time.perf_counter()-t0:.3f}s", file=sys.stderr)
