# daemonise: the parent spins 2 threads for 1 s while a grandchild,
# detached (setsid), spins 2 threads for SECONDS (default 8): the recording
# ends with the parent, and the grandchild's threads are daemons cut off
# mid-work. QA's case for docs/performance.md, "Daemons beside a parked
# main thread":
#
#   giltrace record --formats none -o D -- python3 scripts/whatif/daemonise.py
#   time giltrace compare D/run.giltrace --cores 8 -o D/cmp
import os
import sys
import threading
import time


def spin(seconds):
    end = time.time() + seconds
    while time.time() < end:
        pass


def spin_threads(seconds):
    ts = [threading.Thread(target=spin, args=(seconds,)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        spin_threads(float(sys.argv[1]) if len(sys.argv) > 1 else 8)
    os._exit(0)
spin_threads(1)
