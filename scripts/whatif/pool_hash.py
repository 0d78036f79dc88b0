# A ThreadPoolExecutor of 2 workers hashing 64 MiB four times each
# (hashlib releases the GIL): the main thread waits for the futures'
# results. docs/what-if.md, "waits for its notifier", predicts it from a
# recording on 1 core.
import hashlib, time
from concurrent.futures import ThreadPoolExecutor
buf = b"x" * (64 * 1024 * 1024)
def h(i):
    for _ in range(4):
        hashlib.sha256(buf).digest()
t0 = time.perf_counter()
with ThreadPoolExecutor(2) as ex:
    list(ex.map(h, range(2)))
print("pool wall", round(time.perf_counter() - t0, 3))
