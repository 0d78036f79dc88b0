# 30 threads reading their own pipes, fed every 2 ms by a thread of the same
# process, for 2 s: the recorder's cost of its own-I/O readings (docs/cpython.md,
# "Overhead"; scripts/recorder-cpu.sh).
import os, threading, time
N = 30
pipes = [os.pipe() for _ in range(N)]
stop = time.time() + 2.0
def reader(r):
    while True:
        b = os.read(r, 1)
        if b == b'q': return
def feeder():
    while time.time() < stop:
        for r, w in pipes: os.write(w, b'x')
        time.sleep(0.002)
    for r, w in pipes: os.write(w, b'q')
ts = [threading.Thread(target=reader, args=(r,)) for r, w in pipes] + [threading.Thread(target=feeder)]
[t.start() for t in ts]; [t.join() for t in ts]
