# A consumer takes 4 items with `queue.get(timeout=0.05)` in a loop (Ctrl-C friendly), counting
# down 1.5 M on each; the main thread counts down 1.5 M before it puts each: a worker's loop of
# timed waits until notified. "proc" runs the consumer as a process (multiprocessing.Queue).
import threading, queue, sys, time, multiprocessing as mp
def work(n):
    while n: n -= 1
def consumer(q):
    got = 0
    while got < 4:
        try: q.get(timeout=0.05)
        except queue.Empty: continue
        got += 1; work(1_500_000)
if __name__ == "__main__":
    proc = "proc" in sys.argv[1:]
    q = mp.Queue() if proc else queue.Queue()
    K = mp.Process if proc else threading.Thread
    t0 = time.perf_counter()
    c = K(target=consumer, args=(q,)); c.start()
    for i in range(4):
        work(1_500_000); q.put(i)
    c.join()
    print(f"queue_poll: {time.perf_counter()-t0:.3f}s", file=sys.stderr)
