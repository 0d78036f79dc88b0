# A ThreadPoolExecutor of W workers fed TASKS tasks by the main thread: "sleep" (10 ms each),
# "cpu" (a countdown) or "mix". `pool_sleepers.py 200 sleep 2000` is docs/diagnosis.md's convoy behind a
# pool's own machinery (1 worker against 200: about 120x untraced).
import sys, time, hashlib
from concurrent.futures import ThreadPoolExecutor
W = int(sys.argv[1]); kind = sys.argv[2]; tasks = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
def job(i):
    if kind == "sleep": time.sleep(0.01)
    elif kind == "cpu":
        n = 20000
        while n: n -= 1
    elif kind == "mix":
        time.sleep(0.005); n = 5000
        while n: n -= 1
    return i
t0 = time.perf_counter()
with ThreadPoolExecutor(W) as ex: list(ex.map(job, range(tasks)))
print(f"pool {W} {kind} {tasks}: {time.perf_counter()-t0:.3f}s", flush=True)
