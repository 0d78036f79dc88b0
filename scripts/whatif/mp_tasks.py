# mp_tasks: multiprocessing.Pool(2).map of 8 short countdowns, one task a chunk.
# QA 2026-12-05 (docs/what-if.md, "What processes wait for from each other"):
# recorded on 1 core, its what-if on 2 cores; scripts/whatif/mp_compare.sh runs it.
import multiprocessing
N = 2_000_000
def countdown(n):
    while n > 0:
        n -= 1
    return n
def main():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(countdown, [N] * 8, chunksize=1)
if __name__ == "__main__":
    main()
