# The program behind attach-blocked.giltrace (TestLimitAfterAttachWhileBlocked):
# its main thread sleeps, then starts a CPU-bound worker and counts down
# beside it. Recorded on CPython 3.11.7, 2 cores, attached while every
# thread was blocked in the sleep:
#   python3 attach_blocked.py & sleep 1; giltrace attach $! -o out
import threading
import time


def work(n):
    while n > 0:
        n -= 1


def main():
    time.sleep(3.0)  # every thread blocked when the attach begins
    t = threading.Thread(target=work, args=(2_000_000,))
    t.start()
    work(300_000)
    t.join()


main()
