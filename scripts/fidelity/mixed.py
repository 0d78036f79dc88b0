"""Mixed compute and sleep: THREADS threads each run REPS x (compute
COMPUTE_MS of countdown + time.sleep(SLEEP_MS)). The compute is converted
to loops by a calibration, as the VM converts it. usage: mixed.py THREADS
REPS COMPUTE_MS SLEEP_MS [LOOPS_PER_MS]; prints JSON with the wall time in
ms."""
import json
import sys
import threading
import time

from common import countdown, loops_per_ms


def work(reps, loops, sleep_s):
    for _ in range(reps):
        countdown(loops)
        time.sleep(sleep_s)


def main():
    n, reps, compute_ms, sleep_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    lpm = float(sys.argv[5]) if len(sys.argv) > 5 else loops_per_ms()
    loops = int(compute_ms * lpm)
    ts = [threading.Thread(target=work, args=(reps, loops, sleep_ms / 1000)) for _ in range(n)]
    t = time.perf_counter_ns()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    wall = (time.perf_counter_ns() - t) / 1e6
    print(json.dumps({"threads": n, "loops_per_ms": lpm, "wall_ms": wall}))


if __name__ == "__main__":
    main()
