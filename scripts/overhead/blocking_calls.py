# Overhead workload: one thread making 100 000 GIL-releasing calls
# (os.pread of 4 KiB) back to back: the cost of the probes per call.
import os

fd = os.open(os.__file__, os.O_RDONLY)
for _ in range(100_000):
    os.pread(fd, 4096, 0)
