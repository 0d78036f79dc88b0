# Twelve times: sleep 0.3 s, then run burst(), 1.5 ms of Python: a
# server's request after an idle spell, whose running time the sampler's
# readings charge to burst (docs/performance.md, "Tried and not kept:
# slower readings while the GIL is idle"):
#   giltrace record --formats folded -o /tmp/b -- python3 scripts/overhead/bursts.py
#   grep '^MainThread;running' /tmp/b/flame.folded | grep ';burst (' | awk '{s += $NF} END {print s / 1e6, "ms"}'
import time


def burst():
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < 0.0015:
        n += 1
    return n


def main():
    for _ in range(12):
        time.sleep(0.3)
        burst()


main()
