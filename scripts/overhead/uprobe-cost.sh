#!/bin/sh
# uprobe-cost.sh: the cost of one uprobe hit on this machine, by kind, as
# docs/cpython.md quotes it: a loop of 100 000 os.stat calls (each calls
# PyEval_SaveThread, drop_gil and take_gil once) untraced, then with one
# probe at a time in a private tracefs instance. Needs root.
#
#   scripts/overhead/uprobe-cost.sh [PYENV 3.11 PYTHON]
set -eu
PY=${1:-/root/.pyenv/versions/3.11.7/bin/python3}
T=/sys/kernel/tracing
[ -e $T/uprobe_events ] || mount -t tracefs nodev $T
LIB=$(ldd "$PY" | awk '/libpython/ {print $3}')
off() { nm "$LIB" | awk -v s="$1" '$3 == s {print "0x" $1}'; } # pyenv: address == file offset
G=giltrace_cost_$$
I=$T/instances/$G
LOOP=$(mktemp)
trap 'echo 0 > $I/events/enable 2>/dev/null; rmdir $I 2>/dev/null; echo "-:$G/x" >> $T/uprobe_events 2>/dev/null; rm -f $LOOP' EXIT
cat >"$LOOP" <<'PY'
import os, time
p = os.__file__
t = time.perf_counter()
for _ in range(100_000):
    os.stat(p)
print("%.0f ns/call" % ((time.perf_counter() - t) / 100_000 * 1e9))
PY
mkdir $I
probe() {
	echo "$1" >>$T/uprobe_events
	echo 1 >$I/events/$G/enable
	printf '%-40s ' "$2"; "$PY" "$LOOP"
	echo 0 >$I/events/$G/enable
	echo "-:$G/x" >>$T/uprobe_events
}
uptime
printf '%-40s ' untraced; "$PY" "$LOOP"
probe "p:$G/x $LIB:$(off PyEval_SaveThread)" "uprobe"
probe "r:$G/x $LIB:$(off take_gil)" "return probe"
probe "p:$G/x $LIB:$(off PyEval_SaveThread) ra=\$stack0:x64" "uprobe + return address (1 read)"
probe "p:$G/x $LIB:$(off drop_gil) f0=+32(+8(+56(%dx))):x64[5]" "uprobe + top frame (3.11: 3 reads)"
printf '%-40s ' untraced; "$PY" "$LOOP"
