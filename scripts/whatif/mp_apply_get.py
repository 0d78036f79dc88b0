# mp_apply_get: Pool(2).apply_async(...).get() in a loop: one task at a time,
# so more cores do not help (untraced 0.80-0.99x on 2 cores against 1).
# QA 2026-12-05; scripts/whatif/mp_compare.sh runs it.
import multiprocessing
N = 2_000_000
def countdown(n):
    while n > 0:
        n -= 1
    return n
def main():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for _ in range(8):
            pool.apply_async(countdown, (N,)).get()
if __name__ == "__main__":
    main()
