# Overhead workload: CPU-bound threads (few GIL events: one handoff per
# switch interval).
import threading


def count(n):
    while n > 0:
        n -= 1


ts = [threading.Thread(target=count, args=(10_000_000,)) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
