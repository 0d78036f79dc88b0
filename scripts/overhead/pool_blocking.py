# Overhead workload: a thread pool doing many short blocking calls (each
# releases and re-acquires the GIL): os.stat on a file, 4 workers.
import os
from concurrent.futures import ThreadPoolExecutor

PATH = os.__file__
CALLS = 20_000


def work(n):
    for _ in range(n):
        os.stat(PATH)


with ThreadPoolExecutor(4) as pool:
    list(pool.map(work, [CALLS // 4] * 4))
