# Overhead workload: a pool whose workers come and go (maxtasksperchild=1):
# 400 tasks of 20 000 loops in 400 short-lived processes, then 2 s asleep
# while the recorder keeps sampling (docs/performance.md, "The recorder
# on a pool whose workers come and go"):
#   giltrace record -o DIR --formats none --timings -- python3.11 scripts/overhead/pool_churn.py
import multiprocessing as mp
import time


def work(i):
    s = 0
    for k in range(20000):
        s += k
    return s


if __name__ == "__main__":
    with mp.Pool(2, maxtasksperchild=1) as p:
        p.map(work, range(400), chunksize=1)
    time.sleep(2)
