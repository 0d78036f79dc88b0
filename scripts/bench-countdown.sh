#!/usr/bin/env bash
# bench-countdown.sh: Beazley's countdown `while n > 0: n -= 1` on python3 and
# on giltrace's interpreter, side by side, with the ratio.
#
# Rates are given per CPU second (what each interpreter does when it has a
# core, whatever else the machine is running) and per wall second. python3
# runs the loop at module level, as `python3 -c 'while n > 0: n -= 1'` does
# (LOAD_NAME/STORE_NAME), and inside a function (LOAD_FAST/STORE_FAST, its
# fastest form). giltrace runs it with its superinstructions ("fused") and
# without ("generic": one dispatch per CPython instruction).
#
# Usage: scripts/bench-countdown.sh [N]   (N iterations for python3, default 20000000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000000}

command -v python3 >/dev/null || { echo "bench-countdown: python3 not found" >&2; exit 1; }

py=$(python3 - "$n" <<'PY'
import sys, time
N = int(sys.argv[1])
def rates(run):
    c, w = time.process_time(), time.perf_counter()
    run()
    return N / (time.process_time() - c), N / (time.perf_counter() - w)
src = "n = %d\nwhile n > 0: n -= 1\n" % N
code = compile(src, "<countdown>", "exec")
mod = rates(lambda: exec(code, {}))
def f(n):
    while n > 0: n -= 1
fn = rates(lambda: f(N))
print("%.0f %.0f %.0f %.0f" % (mod[0], mod[1], fn[0], fn[1]))
PY
)
read -r py_mod_cpu py_mod_wall py_fn_cpu py_fn_wall <<<"$py"

bench=$(go test ./vm -run '^$' -bench '^BenchmarkCountdown$' -benchtime 5x -count 1)
rate() { # rate SUB UNIT
	awk -v sub_="BenchmarkCountdown/$1" -v unit="$2" \
		'index($1, sub_) == 1 { for (i = 2; i <= NF; i++) if ($i == unit) print $(i-1) }' <<<"$bench"
}
go_fused_cpu=$(rate fused loops/cpu-s)
go_fused_wall=$(rate fused loops/s)
go_gen_cpu=$(rate generic loops/cpu-s)
go_gen_wall=$(rate generic loops/s)

python3 - "$py_mod_cpu" "$py_mod_wall" "$py_fn_cpu" "$py_fn_wall" \
	"$go_fused_cpu" "$go_fused_wall" "$go_gen_cpu" "$go_gen_wall" <<'PY'
import sys
v = [float(x) for x in sys.argv[1:]]
rows = [("python3, module level", v[0], v[1]), ("python3, in a function", v[2], v[3]),
        ("giltrace, fused", v[4], v[5]), ("giltrace, generic", v[6], v[7])]
print("%-24s %16s %16s" % ("countdown loop", "M loops/cpu-s", "M loops/s"))
for name, cpu, wall in rows:
    print("%-24s %16.1f %16.1f" % (name, cpu / 1e6, wall / 1e6))
print()
print("ratio giltrace fused / python3 module level:   %.1fx per CPU second, %.1fx per wall second" % (v[4] / v[0], v[5] / v[1]))
print("ratio giltrace fused / python3 in a function:  %.1fx per CPU second, %.1fx per wall second" % (v[4] / v[2], v[5] / v[3]))
print("ratio giltrace generic / python3 module level: %.1fx per CPU second" % (v[6] / v[0]))
PY
