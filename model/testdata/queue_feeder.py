# Two processes count down and put their result on a multiprocessing.Queue,
# whose feeder thread each starts at its first put; the parent gets both
# and joins them. Recorded on 1 busy core (CPython 3.11.7, 2026-12-05):
#   taskset -c 1 giltrace record -- python3 queue_feeder.py
# as queue-feeder-late-wait.giltrace and queue-feeder-no-wait.giltrace.
import multiprocessing
N = 8_000_000
def worker(n, q):
    while n > 0:
        n -= 1
    q.put(n)
def main():
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    ps = [ctx.Process(target=worker, args=(N, q)) for _ in range(2)]
    for p in ps:
        p.start()
    rs = [q.get() for _ in ps]
    for p in ps:
        p.join()
if __name__ == "__main__":
    main()
