# 2 CPU-bound tasks (pure-Python countdowns) on a ThreadPoolExecutor of 2, the main thread
# waiting for them with concurrent.futures.wait (or as_completed with "asc"): the commonest
# way to put CPU work on threads. Its waits are on a Condition's waiter lock, a new one for
# each wait (docs/diagnosis.md: a wait for a notification). "proc" runs the same tasks on a
# ProcessPoolExecutor, for the ground truth.
import sys, concurrent.futures as cf
def work(n):
    while n: n -= 1
    return n
if __name__ == "__main__":
    pool = cf.ProcessPoolExecutor if "proc" in sys.argv[1:] else cf.ThreadPoolExecutor
    with pool(2) as ex:
        fs = [ex.submit(work, 10_000_000) for _ in range(2)]
        if "asc" in sys.argv[1:]:
            for f in cf.as_completed(fs): f.result()
        else:
            cf.wait(fs)
