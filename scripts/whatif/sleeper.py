# I/O-like thread: N x time.sleep(0.001) beside 2 CPU-bound daemon threads; SWI env = switch interval ms
import os, sys, time, threading, multiprocessing as mp
sys.setswitchinterval(float(os.environ.get("SWI", "5")) / 1000)
N = int(os.environ.get("N", "100"))
def cpu():
    n = 10**9
    while n > 0: n -= 1
lat = []
def io():
    for i in range(N):
        t = time.perf_counter(); time.sleep(0.001); lat.append(time.perf_counter() - t)
if __name__ != '__main__': raise SystemExit
t0 = time.perf_counter()
for k in range(2): (mp.Process if os.environ.get('MP') == '1' else threading.Thread)(target=cpu, daemon=True, name=f"cpu-{k}").start()
t = threading.Thread(target=io, name="io"); t.start(); t.join()
lat.sort()
print(f"wall={(time.perf_counter()-t0)*1000:.1f}ms lat_mean={sum(lat)/len(lat)*1000:.2f}ms lat_p50={lat[len(lat)//2]*1000:.2f}ms lat_max={lat[-1]*1000:.1f}ms")
