# R rounds: start N threads (or processes) whose whole body is `with L: burn(SEC)`, join them.
# args: [proc] [nolock] [sec=0.003] [n=4] [r=25]
import sys, time, threading, multiprocessing as mp
kv = dict(a.split("=") for a in sys.argv[1:] if "=" in a)
SEC = float(kv.get("sec", 0.003)); N = int(kv.get("n", 4)); R = int(kv.get("r", 25))
def burn(sec):
    t = time.thread_time()
    while time.thread_time() - t < sec: pass
class Nop:
    def __enter__(self): pass
    def __exit__(self, *a): pass
def worker(lock):
    with lock:
        burn(SEC)
if __name__ == "__main__":
    proc = "proc" in sys.argv
    t0 = time.perf_counter()
    lock = Nop() if "nolock" in sys.argv else (mp.Lock() if proc else threading.Lock())
    K = mp.Process if proc else threading.Thread
    for r in range(R):
        ws = [K(target=worker, args=(lock,)) for _ in range(N)]
        for w in ws: w.start()
        for w in ws: w.join()
    print(f"{'proc' if proc else 'threads'} {time.perf_counter()-t0:.3f}s", file=sys.stderr)
