#!/usr/bin/env bash
# wake-lateness.sh: the figures behind virtual time's wake-up preemption
# and timer latency (docs/vm.md, "Virtual time", items 6 and 8): how late
# CPython's 1 ms sleeps end on one core (taskset), alone, beside 1 or 3
# CPU-bound processes, and beside two threads of one process contending
# for their GIL (each sleep then followed by 0.3 ms of compute, 400 of
# them); then the last experiment in virtual time on one simulated core
# (400 x [1 ms I/O, 300 us compute] beside two 1 s threads of another
# process). Needs taskset and python3.11 (GILTRACE_PYTHON, else pyenv's
# 3.11, else python3.11).
#
#   scripts/wake-lateness.sh
#   GILTRACE_BIN=/path/to/giltrace scripts/wake-lateness.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
py=${GILTRACE_PYTHON:-$(ls /root/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | head -1)}
py=${py:-python3.11}
out=$(mktemp -d)
hogs=()
cleanup() {
	for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$out"
}
trap cleanup EXIT
bin=${GILTRACE_BIN:-}
if [ -z "$bin" ]; then
	go build -o "$out/giltrace" ./cmd/giltrace
	bin=$out/giltrace
fi
cat >"$out/sleeps.py" <<'PY'
import sys, time
compute = float(sys.argv[1]) if len(sys.argv) > 1 else 0
late = []
for _ in range(400):
    t = time.perf_counter()
    time.sleep(0.001)
    late.append((time.perf_counter() - t) * 1e3 - 1)
    t = time.perf_counter()
    while time.perf_counter() - t < compute:
        pass
late.sort()
n = len(late)
print("1 ms sleeps late, ms: median %.3f, p90 %.3f, max %.3f; more than 0.5 ms late: %d of %d"
      % (late[n // 2], late[9 * n // 10], late[-1], sum(1 for x in late if x > 0.5), n))
PY
cat >"$out/gilpair.py" <<'PY'
import threading, time
def spin():
    t = time.time()
    while time.time() - t < 8:
        pass
ts = [threading.Thread(target=spin) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
PY
hog() { taskset -c 1 "$py" -c 'while True: pass' & hogs+=($!); }
stop_hogs() { for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done; hogs=(); }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $("$py" --version 2>&1), on core 1 (taskset)"
printf 'alone:                          '; taskset -c 1 "$py" "$out/sleeps.py"
hog; sleep 0.5
printf 'beside 1 CPU-bound process:     '; taskset -c 1 "$py" "$out/sleeps.py"
stop_hogs; hog; hog; hog; sleep 0.5
printf 'beside 3 CPU-bound processes:   '; taskset -c 1 "$py" "$out/sleeps.py"
stop_hogs
taskset -c 1 "$py" "$out/gilpair.py" & hogs+=($!); sleep 0.5
printf 'beside a GIL-contending pair:   '; taskset -c 1 "$py" "$out/sleeps.py" 0.0003
stop_hogs
cat >"$out/mix.yaml" <<'YAML'
name: mix
processes: 2
threads:
  - {name: cpu, count: 2, run: spin, process: 1}
  - {name: io, run: serve, repeat: 400, process: 2}
functions:
  spin: [{compute: 1s}]
  serve: [{io: 1ms}, {compute: 300us}]
YAML
"$bin" record "$out/mix.yaml" --clock virtual --cores 1 --formats text -o "$out/mix" >/dev/null
printf 'the VM, virtual time, 1 core:   '
awk '/ io io-begin/ { b = $1 } / io io-end/ { d = ($1 - b) / 1e6 - 1; n++; if (d > 0.5) l++; if (d > m) m = d }
	END { printf "1 ms I/Os late: more than 0.5 ms late: %d of %d, max %.2f ms\n", l, n, m }' "$out/mix/run.txt"
