# Overhead workload: a CPU-bound thread beside an I/O thread making
# thousands of short GIL-releasing calls per second (time.sleep(0)).
import threading
import time

stop = threading.Event()


def crunch():
    n = 0
    while not stop.is_set():
        for _ in range(1000):
            n += 1


def io():
    for _ in range(5000):
        time.sleep(0)


c = threading.Thread(target=crunch)
i = threading.Thread(target=io)
c.start()
i.start()
i.join()
stop.set()
c.join()
