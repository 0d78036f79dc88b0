# Overhead workload: the rate, a thread pool of 4 workers making
# about 20 000 blocking calls per second in total (17 000-19 600 on the
# 2-core machine of docs/cpython.md, about a second untraced), each call a
# select() with an 80 us timeout (a blocking system call that releases and
# re-acquires the GIL, as a socket wait does; the kernel's timer slack
# stretches it) and a little Python around it. pool_blocking.py makes its
# calls as fast as it can.
import select
from concurrent.futures import ThreadPoolExecutor

CALLS = 20_000


def work(n):
    total = 0
    for i in range(n):
        select.select([], [], [], 0.00008)
        for k in range(40):  # the Python around the call
            total += k
    return total


with ThreadPoolExecutor(4) as pool:
    list(pool.map(work, [CALLS // 4] * 4))
