#!/usr/bin/env bash
# runtime-preemption.sh: the figures of docs/vm.md's "Threads are goroutines
# that sleep only in the kernel": 8 threads of 100 x (2 ms compute + 2 ms
# sleep) in real time on the VM and on CPython, with perf stat's context
# switches, signals generated (Go's preemption is a SIGURG) and nanosleeps
# (Go's system monitor sleeps in usleep), and the VM's time running per
# compute with 8 threads against 1 (the same loops, about 2 ms here; the
# report's running time over the computes: a thread taking turns should
# compute as fast as one alone). Needs perf and python3, and, for the
# CPython side, python3.11 (GILTRACE_PYTHON, else pyenv's 3.11, else
# python3.11).
#
#   scripts/runtime-preemption.sh [ROUNDS]
#   GILTRACE_BIN=/path/to/giltrace scripts/runtime-preemption.sh   # another build (a commit before)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -n "${GILTRACE_BIN:-}" ]; then
	cp "$GILTRACE_BIN" "$out/giltrace"
else
	go build -o "$out/giltrace" ./cmd/giltrace
fi
py=${GILTRACE_PYTHON:-$(ls /root/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | head -1)}
py=${py:-python3.11}
cat >"$out/mixed.yaml" <<'YAML'
name: mixed
threads: [{name: T, count: 1, run: f}]
functions:
  f: [{repeat: {times: 100, body: [{compute: {loops: 480000}}, {io: 2ms}]}}]
YAML
events=context-switches,signal:signal_generate,syscalls:sys_enter_nanosleep,task-clock
stat() { # stat LABEL CMD...: the perf figures of one run
	local label=$1
	shift
	perf stat -x, -e "$events" -o "$out/stat" "$@" >/dev/null 2>&1
	awk -F, -v l="$label" '/context-switches/{cs=$1} /signal_generate/{sg=$1} /nanosleep/{ns=$1} /task-clock/{tc=$1}
		END {printf "%-8s context switches %6d, signals %4d, nanosleeps %6d, CPU %.0f ms\n", l, cs, sg, ns, tc}' "$out/stat"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(getconf _NPROCESSORS_ONLN) cores"
for r in $(seq "$rounds"); do
	stat vm "$out/giltrace" record "$out/mixed.yaml" --threads 8 --formats report-json -o "$out/run8"
	"$out/giltrace" record "$out/mixed.yaml" --threads 1 --formats report-json -o "$out/run1" >/dev/null 2>&1
	python3 - "$out" <<'PY'
import json, sys
def per(n):
    r = json.load(open(f"{sys.argv[1]}/run{n}/report.json"))
    return sum(t["running_ns"] for t in r["threads"]) / (n * 100) / 1e6
one, eight = per(1), per(8)
print(f"vm       running per compute: {one:.3f} ms with 1 thread, {eight:.3f} ms with 8 ({100 * (eight / one - 1):+.1f} %)")
PY
	lpm=$("$py" scripts/fidelity/mixed.py 1 5 2 2 | sed -n 's/.*"loops_per_ms": \([0-9.]*\).*/\1/p')
	stat cpython "$py" scripts/fidelity/mixed.py 8 100 2 2 "$lpm"
done
