#!/usr/bin/env bash
# cpython-futex.sh: how CPython's GIL threads wait in the kernel, counted
# with bpftrace on the futex system calls of one handoff.py run (2 or 4
# CPU-bound threads at a switch interval): per futex word (its address's
# last 12 bits: the GIL's condition, gil->mutex, switch_cond,
# switch_mutex) and result (0 woken, -11 EAGAIN: the word had changed
# before the thread slept, -110 the timeout), the number of waits and
# their mean in µs. The figures behind docs/fidelity.md's count of
# CPython's futex waits at 0.2 ms. Traced, CPython switches more often
# (2805 /s against about 2470 at 2 threads). Needs root and bpftrace
# (apt-get install bpftrace), and python3.11 (GILTRACE_PYTHON, else
# pyenv's 3.11).
#
#   scripts/cpython-futex.sh [THREADS] [INTERVAL_MS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/fidelity"
n=${1:-2} iv=${2:-0.2} secs=${3:-1}
py=${GILTRACE_PYTHON:-$(ls /root/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | head -1)}
py=${py:-python3.11}
command -v bpftrace >/dev/null || { echo "cpython-futex.sh: needs bpftrace (apt-get install bpftrace)" >&2; exit 1; }
comm=$(basename "$py" | cut -c1-15)
bpftrace -e '
tracepoint:syscalls:sys_enter_futex /comm == "'"$comm"'"/ { @s[tid] = nsecs; @op[tid] = args->op & 127; @ua[tid] = (uint64)args->uaddr; }
tracepoint:syscalls:sys_exit_futex /comm == "'"$comm"'" && @s[tid]/ {
  if (@op[tid] == 0 || @op[tid] == 9) {
    @waits[@ua[tid] & 0xfff, args->ret] = count();
    @mean_us[@ua[tid] & 0xfff, args->ret] = avg((nsecs - @s[tid]) / 1000);
  }
  delete(@s[tid]);
}
END { clear(@s); clear(@op); clear(@ua); }' -c "$py handoff.py $n $iv $secs" 2>&1 | grep -v "RLIMIT_MEMLOCK\|^Attaching"
