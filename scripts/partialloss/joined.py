# Two CPU-bound threads for SECONDS (default 8), joined by the main thread,
# which waits in Thread.join the whole time: scripts/partial-loss.sh's
# default program.
import sys, threading, time
secs = float(sys.argv[1]) if len(sys.argv) > 1 else 8
def spin():
    end = time.time() + secs
    while time.time() < end:
        n = 10000
        while n > 0:
            n -= 1
ts = [threading.Thread(target=spin) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
