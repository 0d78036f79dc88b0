#!/usr/bin/env bash
# mp_compare.sh PYTHON SCRIPT [CPU]: how well the what-if of SCRIPT recorded
# on one core (giltrace record --cpus CPU, default 0) predicts it on 2: the
# row "processes 2" of giltrace compare --cores 2, beside the same program
# recorded on every CPU and timed untraced on one CPU and on all of them
# (docs/what-if.md, "What processes wait for from each other"). Needs root
# (the probes) and giltrace on PATH (or GILTRACE=path). Writes under a new
# temporary directory, which it names, and removes nothing else.
set -euo pipefail
PY=${1:?usage: mp_compare.sh PYTHON SCRIPT [CPU]}
SCRIPT=${2:?usage: mp_compare.sh PYTHON SCRIPT [CPU]}
CPU=${3:-0}
G=${GILTRACE:-giltrace}
D=$(mktemp -d /tmp/mp_compare.XXXXXX)
ms() { local s; s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000000 )); }
"$G" record --cpus "$CPU" -o "$D/one" --formats none --quiet -- "$PY" "$SCRIPT" >/dev/null
"$G" record -o "$D/all" --formats none --quiet -- "$PY" "$SCRIPT" >/dev/null
one=$("$G" report "$D/one/run.giltrace" | head -1 | grep -o 'wall [0-9.]*m\?s')
all=$("$G" report "$D/all/run.giltrace" | head -1 | grep -o 'wall [0-9.]*m\?s')
pred=$("$G" compare "$D/one/run.giltrace" --cores 2 -o "$D/one/whatif" | awk '$1 == "processes" && $2 == 2 {print $4; exit}')
u1=$(ms taskset -c "$CPU" "$PY" "$SCRIPT")
u2=$(ms "$PY" "$SCRIPT")
echo "$(basename "$SCRIPT"): recorded on CPU $CPU: $one; predicted as processes on 2 cores: $pred; recorded on every CPU: $all; untraced: ${u1} ms on CPU $CPU, ${u2} ms on every CPU ($D)"
