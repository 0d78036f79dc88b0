"""The convoy effect: an I/O thread does REPS x time.sleep(IO_MS) (blocking
I/O that releases the GIL) beside a CPU-bound thread (or alone, with
"alone"), at switch interval INTERVAL_MS. Each I/O's re-acquire latency is
the time from just before the I/O to just after it returned (the GIL taken
back), minus IO_MS: it includes the operating system's delivery of the I/O
(the sleep's timer slack and wake-up), which the alone run measures by
itself. The VM is measured the same way from its trace (io-begin to the
acquire after it, minus the I/O's duration). usage: convoy.py INTERVAL_MS
with|alone REPS IO_MS; prints JSON with the median in ms."""
import json
import sys
import threading
import time

from common import countdown


def main():
    interval_ms, cpu, reps, io_ms = float(sys.argv[1]), sys.argv[2] == "with", int(sys.argv[3]), float(sys.argv[4])
    sys.setswitchinterval(interval_ms / 1000)
    stop = False

    def crunch():
        while not stop:
            countdown(1000)

    lat = []

    def serve():
        pc = time.perf_counter_ns
        for _ in range(reps):
            t0 = pc()
            time.sleep(io_ms / 1000)
            lat.append(pc() - t0 - int(io_ms * 1e6))

    c = threading.Thread(target=crunch)
    if cpu:
        c.start()
        time.sleep(0.002)
    s = threading.Thread(target=serve)
    s.start()
    s.join()
    stop = True
    if cpu:
        c.join()
    lat.sort()
    print(json.dumps({"interval_ms": interval_ms, "cpu": cpu, "median_ms": lat[len(lat) // 2] / 1e6}))


if __name__ == "__main__":
    main()
