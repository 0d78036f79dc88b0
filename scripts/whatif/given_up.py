# The main thread waits 0.3 s on an Event nobody sets (a timed wait that runs out, given up),
# then counts down 3 M beside 2 CPU-bound threads (8 M each): docs/diagnosis.md's timeout given
# up, which keeps its length. "proc" runs the 2 workers as processes, for the ground truth.
import threading, sys, time, multiprocessing as mp
def work(n):
    while n: n -= 1
if __name__ == "__main__":
    K = mp.Process if "proc" in sys.argv[1:] else threading.Thread
    t0 = time.perf_counter()
    ts = [K(target=work, args=(8_000_000,)) for _ in range(2)]
    for t in ts: t.start()
    threading.Event().wait(0.3)
    work(3_000_000)
    for t in ts: t.join()
    print(f"given_up: {time.perf_counter()-t0:.3f}s", file=sys.stderr)
