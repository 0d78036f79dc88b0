#!/usr/bin/env bash
# handback.sh: how often the GIL goes back to the thread that held it just
# before (A B A: the share of the holding periods whose next holder is the
# previous one), for 4 CPU-bound threads at 0.2, 1 and 5 ms, on CPython
# (scripts/fidelity/handoff.py's threads, untraced, from their running
# segments) and on the VM in real time (from the trace's GIL acquires).
# The figure behind docs/fidelity.md's "Why the 4 threads at 0.2 ms are
# fairer on the VM"; for the VM also the share of the drop requests that
# the previous holder set (its timed wait the first to expire after the
# switch). Needs python3.11 (GILTRACE_PYTHON, else pyenv's 3.11,
# else python3.11).
#
#   scripts/handback.sh [ROUNDS]
#   GILTRACE_BIN=/path/to/giltrace scripts/handback.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
py=${GILTRACE_PYTHON:-$(ls /root/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | head -1)}
py=${py:-python3.11}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin=${GILTRACE_BIN:-}
if [ -z "$bin" ]; then
	go build -o "$out/giltrace" ./cmd/giltrace
	bin=$out/giltrace
fi
# CPython: handoff.py's workers, 3 s, their segments merged on one timeline
# as handoff.py's figures() merges them.
cat >"$out/cpython.py" <<'PY'
import sys, threading, time
sys.path.insert(0, sys.argv[1])
import handoff
n, iv, secs = 4, float(sys.argv[2]), 3.0
sys.setswitchinterval(iv / 1000)
deadline = time.perf_counter_ns() + int(secs * 1e9)
outs = [[] for _ in range(n)]
ts = [threading.Thread(target=handoff.worker, args=(deadline, outs[i])) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
lo = max(s[0][0] for s in outs); hi = min(s[-1][1] for s in outs)
segs = sorted((a, b, i) for i, o in enumerate(outs) for a, b in o if b > lo and a < hi)
runs = []
for _, _, i in segs:
    if not runs or runs[-1] != i:
        runs.append(i)
back = sum(1 for x, _, z in zip(runs, runs[1:], runs[2:]) if x == z)
print("%.2f" % (back / max(1, len(runs) - 2)))
PY
# The VM: 4 threads of 750 ms of compute, real time, the trace's acquires.
cat >"$out/h4.yaml" <<'YAML'
name: handback
threads: [{name: T, count: 4, run: f}]
functions:
  f: [{compute: 750ms}]
YAML
vmshare() {
	"$bin" record "$out/h4.yaml" --switch-interval "$1" -o "$out/run" --formats none >/dev/null 2>&1
	"$bin" export "$out/run/run.giltrace" --format text -o - | awk '
		$3 == "lock-acquire" && $4 == "GIL" { if ($2 != last) { prev = last; r[n++] = $2; last = $2 } }
		$3 == "drop-request" && $4 == "GIL" { nd++; if ($2 == prev) rp++ }
		END { b = 0; for (i = 2; i < n; i++) if (r[i] == r[i-2]) b++
			printf "%.2f (drop requests set by the previous holder: %.2f)\n", (n > 2 ? b / (n - 2) : 0), (nd ? rp / nd : 0) }'
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "share of handoffs back to the previous holder, 4 CPU-bound threads ($($py -V 2>&1))"
for r in $(seq 1 "$rounds"); do
	for iv in 0.2 1 5; do
		c=$($py "$out/cpython.py" scripts/fidelity "$iv")
		v=$(vmshare "${iv}ms")
		echo "round $r, ${iv} ms: CPython $c, VM (real time) $v"
	done
done
