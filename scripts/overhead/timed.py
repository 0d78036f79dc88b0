# Runs a workload (argv[1]) and appends its own wall time in nanoseconds to
# the file named by $TIMED_OUT: the program's time, without the start and
# stop of the recorder around it.
import os
import runpy
import sys
import time

t = time.perf_counter_ns()
runpy.run_path(sys.argv[1], run_name="__main__")
with open(os.environ["TIMED_OUT"], "a") as f:
    f.write("%d\n" % (time.perf_counter_ns() - t))
