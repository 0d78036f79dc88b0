# mp_imap: multiprocessing.Pool(4).imap_unordered of 8 countdowns: idle workers
# wait on the task queue's read lock (I/O semaphore) while one reads.
# QA 2026-12-05; scripts/whatif/mp_compare.sh runs it.
import multiprocessing
N = 2_000_000
def countdown(n):
    while n > 0:
        n -= 1
    return n
def main():
    with multiprocessing.get_context("fork").Pool(4) as pool:
        for r in pool.imap_unordered(countdown, [N] * 8):
            pass
if __name__ == "__main__":
    main()
