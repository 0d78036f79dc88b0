# Overhead workload: a thread pool of 4 workers making about 20 000 short
# blocking calls per second in total: each an os.pread of 4 KiB (which
# releases and re-acquires the GIL) and a little Python around it.
import os
from concurrent.futures import ThreadPoolExecutor

CALLS = 20_000
fd = os.open(os.__file__, os.O_RDONLY)


def work(n):
    total = 0
    for i in range(n):
        data = os.pread(fd, 4096, 0)
        for k in range(40):  # the Python around the call
            total += k
        total += len(data)
    return total


with ThreadPoolExecutor(4) as pool:
    list(pool.map(work, [CALLS // 4] * 4))
