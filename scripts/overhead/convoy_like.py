# Overhead workload: convoy-like, with thousands of GIL releases per second:
# a CPU-bound thread (releasing on drop requests every 0.2 ms switch
# interval) beside an I/O thread making short blocking calls.
import sys
import threading
import time

sys.setswitchinterval(0.0002)
stop = threading.Event()


def crunch():
    n = 0
    while not stop.is_set():
        for _ in range(1000):
            n += 1


def io():
    for _ in range(1500):
        time.sleep(0.0001)


c = threading.Thread(target=crunch)
i = threading.Thread(target=io)
c.start()
i.start()
i.join()
stop.set()
c.join()
