# Overhead workload for lock holds (giltrace record --lock-holds): four
# threads each taking and letting go of one shared threading.Lock 200 000
# times with nothing inside (`with lock: pass`), as fast as they can: every
# acquire and release is a probe hit with --lock-holds, the worst case for
# it. Most acquires are uncontended (the GIL lets one thread run at a time).
import threading

ROUNDS = 200_000
lock = threading.Lock()


def work():
    for _ in range(ROUNDS):
        with lock:
            pass


threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
