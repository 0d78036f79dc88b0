# Each worker burns CPU, then writes its result under a shared lock once,
# holding it for an I/O-bound stretch (sleep stands for a slow write).
import sys, time, threading, multiprocessing as mp
W = [0.10, 0.20, 0.30, 0.40]   # CPU seconds before the write
S = [0.27, 0.17, 0.07, 0.07]   # seconds the write holds the lock
def burn(sec):
    t = time.thread_time(); x = 0
    while time.thread_time() - t < sec:
        for _ in range(1000): x += 1
def worker(i, lock):
    burn(W[i])
    with lock:
        time.sleep(S[i])
if __name__ == "__main__":
    proc = len(sys.argv) > 1 and sys.argv[1] == "proc"
    t0 = time.perf_counter()
    lock = (mp.Lock() if proc else threading.Lock()) if "nolock" not in sys.argv else type("N",(),{"__enter__":lambda s:None,"__exit__":lambda s,*a:None})()
    K = mp.Process if proc else threading.Thread
    ws = [K(target=worker, args=(i, lock)) for i in range(4)]
    for w in ws: w.start()
    for w in ws: w.join()
    print(f"{'proc' if proc else 'threads'} {time.perf_counter()-t0:.3f}s", file=sys.stderr)
