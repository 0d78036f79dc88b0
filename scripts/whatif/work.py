# The programs of scripts/whatif-accuracy.sh: the same work run by two
# workers as threads, as processes (multiprocessing) or one after the other,
# so that giltrace's prediction for processes can be checked against a real
# multiprocessing run.
#
#   python3 work.py KIND MODE
#
# KIND: cpu   (each worker: a pure-Python countdown, like the seed post's)
#       mixed (each worker: 20 x [10 ms of Python, then a 5 ms sleep])
# MODE: threads | processes | sequential
import multiprocessing
import sys
import threading
import time


def countdown(n):
    while n > 0:
        n -= 1


def cpu():
    countdown(6_000_000)


def mixed():
    for _ in range(20):
        countdown(400_000)
        time.sleep(0.005)


def main():
    kind, mode = sys.argv[1], sys.argv[2]
    work = {"cpu": cpu, "mixed": mixed}[kind]
    if mode == "sequential":
        work()
        work()
        return
    make = threading.Thread if mode == "threads" else multiprocessing.Process
    workers = [make(target=work, name=f"worker-{i}") for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
