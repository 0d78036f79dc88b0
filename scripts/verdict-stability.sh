#!/usr/bin/env bash
# Records every fixture RUNS times in real time (the default clock) and
# prints, per fixture, the verdict sets the runs got and the verdicts
# reported near their boundary: issue 14's stability figure ("one verdict
# set, or near the boundary"). Run it on a quiet machine.
#
#   scripts/verdict-stability.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/giltrace" ./cmd/giltrace
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $runs runs per fixture"
for f in fixtures/*.yaml; do
	name=$(basename "$f" .yaml)
	sets="" near=""
	for r in $(seq "$runs"); do
		"$out/giltrace" record "$f" -o "$out/$name" --formats none --json >"$out/r.json" 2>/dev/null || true
		v=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(",".join(x["code"] for x in r["verdicts"]) or "-"); print(",".join(sorted({x["code"] for x in r.get("near_boundary") or []})) or "-")' "$out/r.json")
		sets="$sets$(echo "$v" | sed -n 1p)\n"
		near="$near$(echo "$v" | sed -n 2p)\n"
	done
	distinct=$(printf -- "$sets" | sort | uniq -c | awk '{printf "%s%s x%d", sep, $2, $1; sep="; "}')
	nb=$(printf -- "$near" | tr ',' '\n' | { grep -v '^-$' || true; } | sort -u | paste -sd, -)
	n=$(printf -- "$sets" | sort -u | wc -l)
	printf '%-24s %d set(s): %s | near the boundary: %s\n' "$name" "$n" "$distinct" "${nb:--}"
done
