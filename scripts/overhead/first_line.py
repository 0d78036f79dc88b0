# Prints the wall clock (time.time()) as its first line: against the
# shell's clock just before `giltrace record -- python3 first_line.py`,
# how long the recorder's start delays the program (docs/performance.md,
# "The recorder's start: the interpreter's DWARF mapped"):
#   t0=$(date +%s.%N); giltrace record --formats none -o /tmp/fl -- python3 \
#     scripts/overhead/first_line.py | awk -v t0=$t0 '{print $2 - t0}'
import time
print("FIRST", time.time(), flush=True)
