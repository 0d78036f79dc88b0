# 1000 threads started and joined one at a time, each doing nothing: what tracing adds to
# starting a thread (docs/cpython.md, "Overhead"; diagnosis.ThreadStartCostNS). Compare
#   python3 scripts/overhead/thread_starts.py
#   giltrace record --formats none -- python3 scripts/overhead/thread_starts.py
# (the program prints its own time).
import threading, time
N = 1000
t0 = time.perf_counter()
for i in range(N):
    t = threading.Thread(target=lambda: None); t.start(); t.join()
print(f"{N} empty threads: {time.perf_counter()-t0:.3f}s", flush=True)
