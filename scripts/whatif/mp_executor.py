# mp_executor: concurrent.futures.ProcessPoolExecutor(2), 4 countdowns
# submitted and taken with as_completed; its manager thread waits on the
# workers' results. QA 2026-12-05; scripts/whatif/mp_compare.sh runs it.
import concurrent.futures as cf
import multiprocessing
N = 4_000_000
def countdown(n):
    while n > 0:
        n -= 1
    return n
def main():
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
        fs = [ex.submit(countdown, N) for _ in range(4)]
        for f in cf.as_completed(fs):
            f.result()
if __name__ == "__main__":
    main()
