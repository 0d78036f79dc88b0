# 30 raw _thread workers, one at a time, whose whole body is `with L: burn(3ms)`; main polls.
import _thread, threading, time
L = threading.Lock(); done = []
def burn(s):
    t = time.thread_time()
    while time.thread_time() - t < s: pass
def w():
    with L: burn(0.003)
    done.append(1)
for i in range(30):
    _thread.start_new_thread(w, ())
    while len(done) <= i: time.sleep(0.0005)
