# A thread R computes in 5 phases and starts a CPU-bound worker X<i> after
# each; meanwhile a spawner T starts trivial threads back to back.
import threading, time
def burn(sec):
    t = time.thread_time()
    while time.thread_time() - t < sec: pass
def noop(): pass
stop = threading.Event()
def spawner():
    while not stop.is_set():
        threading.Thread(target=noop).start()
def r():
    xs = []
    for i in range(5):
        burn(0.04)
        x = threading.Thread(target=burn, args=(0.04,), name=f"X{i}"); x.start(); xs.append(x)
    for x in xs: x.join()
T = threading.Thread(target=spawner, name="T"); T.start()
R = threading.Thread(target=r, name="R"); R.start(); R.join()
stop.set(); T.join()
