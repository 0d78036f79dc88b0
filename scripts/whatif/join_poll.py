# 2 threads hashing 64-byte buffers (pure CPU under the GIL), split across N threads (or
# processes with "proc"); the main thread waits for each with a timed join in a loop,
# `while t.is_alive(): t.join(0.1)` (Ctrl-C friendly): docs/diagnosis.md's timed join loop.
# Ground truth: `python3 join_poll.py 2` against `python3 join_poll.py 2 proc`.
import hashlib, threading, time, sys, multiprocessing as mp
BUF = b"x" * 64
TOTAL = 2_500_000
def worker(units):
    for _ in range(units): hashlib.sha256(BUF).digest()
if __name__ != '__main__': raise SystemExit
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
t0 = time.perf_counter()
mode = sys.argv[2] if len(sys.argv) > 2 else "thread"
K = mp.Process if mode == "proc" else threading.Thread
ts = [K(target=worker, args=(TOTAL // n,), name=f"w{i}") for i in range(n)]
for t in ts: t.start()
for t in ts:
    while t.is_alive(): t.join(0.1)
print(f"join_poll N={n} {mode}: {time.perf_counter()-t0:.3f}s", file=sys.stderr)
