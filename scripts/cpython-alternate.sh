#!/bin/sh
# cpython-alternate.sh: the traced program's own time under several
# giltrace builds (and untraced, "none"), the runs alternated so that the
# machine's noise hits each alike; the median, min and max of ROUNDS runs
# per build. Needs root. For comparing two builds' tracing cost
# (docs/cpython.md, "Overhead").
#
#   scripts/cpython-alternate.sh WORKLOAD ROUNDS none OLD-GILTRACE NEW-GILTRACE
#   PY=/path/to/python3 scripts/cpython-alternate.sh pool_20k 7 none ./giltrace
#
# WORKLOAD is one of scripts/overhead/*.py, without ".py".
set -eu
[ $# -ge 3 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
W=$1 R=$2
shift 2
PY=${PY:-/root/.pyenv/versions/3.11.7/bin/python3}
cd "$(dirname "$0")/.."
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
i=0
for b in "$@"; do # a file per build, by position
	i=$((i + 1))
	: >"$TMP/t$i"
done
for _ in $(seq "$R"); do
	i=0
	for b in "$@"; do
		i=$((i + 1))
		if [ "$b" = none ]; then
			TIMED_OUT="$TMP/t$i" "$PY" scripts/overhead/timed.py "scripts/overhead/$W.py" >/dev/null
		else
			TIMED_OUT="$TMP/t$i" "$b" record --quiet -o "$TMP/run" --formats none -- "$PY" scripts/overhead/timed.py "scripts/overhead/$W.py" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
		fi
	done
done
echo "$W, $R rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
i=0
for b in "$@"; do
	i=$((i + 1))
	sort -n "$TMP/t$i" | awk -v b="$b" '{a[NR] = $1 / 1e6} END { printf "  %-40s median %5.0f ms (min %.0f, max %.0f)\n", b, a[int((NR + 1) / 2)], a[1], a[NR] }'
done
