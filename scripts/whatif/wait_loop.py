# 2 CPU-bound tasks (pure-Python countdowns) on a ThreadPoolExecutor of 2, each setting an Event
# when done; the main thread waits for them with a loop of timed waits, `while not
# all(e.wait(0.05) for e in evs): pass` (Ctrl-C friendly): docs/diagnosis.md's loop of timed
# waits until notified. "proc" runs the same tasks on a ProcessPoolExecutor, for the ground
# truth: `python3 wait_loop.py` against `python3 wait_loop.py proc`.
import threading, concurrent.futures as cf, sys, time
def work(n, ev=None):
    while n: n -= 1
    if ev is not None: ev.set()
if __name__ == "__main__":
    t0 = time.perf_counter()
    if "proc" in sys.argv[1:]:
        with cf.ProcessPoolExecutor(2) as ex: list(ex.map(work, [6_000_000] * 2))
    else:
        evs = [threading.Event() for _ in range(2)]
        with cf.ThreadPoolExecutor(2) as ex:
            for e in evs: ex.submit(work, 6_000_000, e)
            while not all(e.wait(0.05) for e in evs):
                pass
    print(f"wait_loop: {time.perf_counter()-t0:.3f}s", file=sys.stderr)
