#!/bin/sh
# other-process.sh: what giltrace costs a process it was NOT asked to
# trace. A bystander running the same interpreter does 1 M uncontended
# Lock acquire/release pairs and 200 000 os.stat("/") (each a GIL release
# and re-acquire), timed inside it, alone and while giltrace is attached
# to a third process of the same interpreter; medians of ROUNDS. Needs
# root. docs/performance.md, "Probes armed only in the traced processes".
#
#   scripts/other-process.sh [PYTHON] [ROUNDS]
#   GILTRACE_BIN=path/to/giltrace scripts/other-process.sh   # another build
set -eu
PY=${1:-/root/.pyenv/versions/3.11.7/bin/python3}
ROUNDS=${2:-5}
cd "$(dirname "$0")/.."
TMP=$(mktemp -d)
target=
cleanup() {
	[ -n "$target" ] && kill "$target" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
if [ -n "${GILTRACE_BIN:-}" ]; then
	cp "$GILTRACE_BIN" "$TMP/giltrace"
else
	go build -o "$TMP/giltrace" ./cmd/giltrace
fi
cat >"$TMP/bystander.py" <<'PY'
import os, threading, time
l = threading.Lock()
t = time.perf_counter()
for _ in range(1_000_000):
    l.acquire(); l.release()
lock = time.perf_counter() - t
t = time.perf_counter()
for _ in range(200_000):
    os.stat("/")
print("%.0f %.0f" % (lock * 1e3, (time.perf_counter() - t) * 1e3))
PY
# The process giltrace attaches to: a thread that computes, one that sleeps.
"$PY" -c '
import threading, time
def spin():
    while True:
        sum(range(10000)); time.sleep(0.001)
threading.Thread(target=spin, daemon=True).start()
time.sleep(3600)' &
target=$!
sleep 0.5
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "python: $PY, $(nproc) cores, $ROUNDS rounds, load $(cut -d' ' -f1 /proc/loadavg)"
for i in $(seq "$ROUNDS"); do
	"$PY" "$TMP/bystander.py" >>"$TMP/alone"
	"$TMP/giltrace" attach "$target" --duration 60s --quiet -o "$TMP/run" --formats none >/dev/null 2>"$TMP/err" &
	g=$!
	sleep 1 # the probes are on
	"$PY" "$TMP/bystander.py" >>"$TMP/during"
	kill -INT "$g"
	rc=0
	wait "$g" || rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 130 ]; then # 130: stopped by SIGINT, as asked
		cat "$TMP/err" >&2
		exit 1
	fi
done
for f in alone during; do
	printf '%-7s 1 M Lock pairs %5s ms, 200 000 os.stat %5s ms\n' "$f" "$(cut -d' ' -f1 "$TMP/$f" | median)" "$(cut -d' ' -f2 "$TMP/$f" | median)"
done
