# 4 CPU-bound tasks (pure-Python countdowns) run from asyncio with run_in_executor on the
# default ThreadPoolExecutor: the event loop waits in epoll on its self-pipe, a socket pair,
# until a worker's result wakes it (I/O "own-io": docs/cpython.md). "proc" runs the same tasks
# on a ProcessPoolExecutor of 2, for the ground truth.
import asyncio, sys
import concurrent.futures as cf
def work(n):
    while n: n -= 1
    return n
async def main(ex):
    loop = asyncio.get_running_loop()
    await asyncio.gather(*[loop.run_in_executor(ex, work, 5_000_000) for _ in range(4)])
if __name__ == "__main__":
    if "proc" in sys.argv[1:]:
        with cf.ProcessPoolExecutor(2) as ex:
            asyncio.run(main(ex))
    else:
        asyncio.run(main(None))
