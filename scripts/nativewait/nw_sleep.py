# nw_sleep.py N CALLS US: N threads, each making CALLS ctypes calls to
# libc's usleep(US): C calls that release the GIL and wait, as a database
# driver waiting on its socket does (docs/cpython.md, "C calls that
# wait"). Prints the truth the report is checked against: the wall time,
# the threads' CPU time summed, and the longest thread's wall.
#
#   giltrace record -- python3 scripts/nativewait/nw_sleep.py 4 1000 1000
import ctypes
import sys
import threading
import time

libc = ctypes.CDLL("libc.so.6")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 8
CALLS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
US = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
res = {}


def work(i):
    t0, w0 = time.thread_time(), time.perf_counter()
    for _ in range(CALLS):
        libc.usleep(US)
    res[i] = (time.thread_time() - t0, time.perf_counter() - w0)


t0 = time.perf_counter()
threads = [threading.Thread(target=work, args=(i,), name=f"sl{i}") for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("TRUTH wall %.3f cpu_sum %.4f per-thread-wall %.3f"
      % (time.perf_counter() - t0, sum(v[0] for v in res.values()), max(v[1] for v in res.values())))
