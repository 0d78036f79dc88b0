# Three threads pass a token round a ring of os.pipe()s, each computing about 2 ms before
# passing it on: only one of them works at a time, the others wait on their own process's
# pipes (I/O "own-io": docs/diagnosis.md, "I/O on its own pipes and connections").
# python3 own_relay.py [HOPS]
import os, sys, threading
HOPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
pipes = [os.pipe() for _ in range(3)]
def work():
    s = 0
    for i in range(40_000): s += i
def relay(i):
    r, w = pipes[i][0], pipes[(i + 1) % 3][1]
    if i == 0: os.write(w, b"x")
    for _ in range(HOPS):
        os.read(r, 1); work(); os.write(w, b"x")
ts = [threading.Thread(target=relay, args=(i,), name=f"relay-{i}") for i in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]
