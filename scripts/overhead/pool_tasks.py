# Overhead workload for lock holds: a ThreadPoolExecutor of four workers
# running 20 000 small tasks (a little Python each) handed out through its
# queue: every task takes and lets go of several locks (the work queue's,
# the future's condition, the waiter locks of Condition.wait), the lock
# traffic of a typical thread pool.
from concurrent.futures import ThreadPoolExecutor

TASKS = 20_000


def task(n):
    total = 0
    for k in range(n):
        total += k
    return total


with ThreadPoolExecutor(4) as pool:
    list(pool.map(task, [40] * TASKS))
