# 4 CPU-bound tasks (pure-Python countdowns) on a multiprocessing.pool.ThreadPool of 2 with
# map: its worker handler thread polls the pool's change notifier, a pipe, until the pool
# closes (I/O "own-io": a wait for the thread that closes it, docs/cpython.md). "proc" runs
# the same tasks on a multiprocessing.Pool, for the ground truth.
import sys
from multiprocessing.pool import ThreadPool, Pool
def work(n):
    while n: n -= 1
    return n
if __name__ == "__main__":
    P = Pool if "proc" in sys.argv[1:] else ThreadPool
    with P(2) as p:
        p.map(work, [5_000_000] * 4)
