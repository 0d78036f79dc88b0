#!/usr/bin/env bash
# Side by side: giltrace's predictions for a traced Python program against
# the same program measured as processes and as threads (docs/what-if.md).
#
# For each kind of work (scripts/whatif/work.py: cpu, mixed) it runs, RUNS
# times interleaved: the program as threads under giltrace record (which
# writes the prediction), and untraced as threads, as processes
# (multiprocessing) and sequentially. A speedup is the sequential wall time
# over the variant's; the predicted ones are the model's (serial work over
# the predicted wall, the report's measure). The measured speedup is the
# median of the rounds' speedups (each round's sequential wall over its
# variant's: paired, so that a drift of the machine cancels); the ratio of
# the median walls is printed beside it, and each round's speedup.
#
#   sudo scripts/whatif-accuracy.sh [PYTHON] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-/root/.pyenv/versions/3.11.7/bin/python3.11}
runs=${2:-3}
bin=$(mktemp -d)/giltrace
go build -o "$bin" ./cmd/giltrace
out=$(mktemp -d)
wall() { # wall time of a command in seconds
	local s e
	s=$(date +%s.%N)
	"$@" >/dev/null
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}
for kind in cpu mixed; do
	for r in $(seq "$runs"); do
		"$bin" record -o "$out/$kind-$r" --json -- "$py" scripts/whatif/work.py "$kind" threads >"$out/$kind-$r.json"
		for mode in threads processes sequential; do
			wall "$py" scripts/whatif/work.py "$kind" "$mode" >>"$out/$kind-$mode.txt"
		done
	done
done
"$py" - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
print(f"{'work':6} {'':10} {'measured':>9} {'predicted':>9} {'error':>7}  {'ratio of medians':>16} {'error':>7}  each round (sequential / variant, same round)")
for kind in ("cpu", "mixed"):
    walls = {m: [float(x) for x in open(f"{out}/{kind}-{m}.txt")] for m in ("threads", "processes", "sequential")}
    t = {m: statistics.median(w) for m, w in walls.items()}
    preds = [json.load(open(f"{out}/{kind}-{r}.json"))["what_if"] for r in range(1, runs + 1)]
    def pred(mode):
        return statistics.median(next(row["speedup"] for row in p["rows"] if row["mode"] == mode and row["cores"] == 2 and not row.get("switch_interval_ns")) for p in preds)
    replay = statistics.median(p["replay"]["speedup"] for p in preds)
    for mode, predicted in (("threads", replay), ("processes", pred("processes"))):
        # measured: the median of the rounds' speedups, each the sequential
        # wall over the variant's in the same round (paired: the runs of a
        # round are seconds apart, so a drift of the machine's speed cancels)
        pairs = [s / v for s, v in zip(walls["sequential"], walls[mode])]
        measured = statistics.median(pairs)
        ratio = t["sequential"] / t[mode]
        rounds = " ".join(f"{x:.2f}" for x in pairs)
        print(f"{kind:6} {mode:10} {measured:8.2f}x {predicted:8.2f}x {100 * (predicted - measured) / measured:+6.1f}%  {ratio:15.2f}x {100 * (predicted - ratio) / ratio:+6.1f}%  {rounds}")
PY
