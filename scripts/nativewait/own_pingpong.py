# Two threads passing a byte back and forth over os.pipe, N times, the second
# computing a little each time: a program that waits on itself (docs/diagnosis.md,
# "I/O on its own pipes and connections"). python3 own_pingpong.py [N]
import os, threading, sys, time
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
a_r, a_w = os.pipe(); b_r, b_w = os.pipe()
def ping():
    for i in range(N):
        os.write(a_w, b'x'); os.read(b_r, 1)
def pong():
    for i in range(N):
        os.read(a_r, 1); 
        s = 0
        for j in range(200): s += j
        os.write(b_w, b'y')
t0 = time.time()
ts = [threading.Thread(target=ping), threading.Thread(target=pong)]
[t.start() for t in ts]; [t.join() for t in ts]
print("wall", time.time() - t0)
