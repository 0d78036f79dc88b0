# mp_spawn: Pool(2).map of two countdowns with the spawn start method: each
# worker starts an interpreter and imports this module. QA 2026-12-05;
# scripts/whatif/mp_compare.sh runs it.
import multiprocessing
N = 8_000_000
def countdown(n):
    while n > 0:
        n -= 1
    return n
def main():
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(countdown, [N, N])
if __name__ == "__main__":
    main()
