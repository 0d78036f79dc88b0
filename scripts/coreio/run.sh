#!/bin/bash
# scripts/coreio/run.sh PYTHON [N...]: records scripts/coreio/pool_mix.py
# with N workers (default 4 and 16) on CPU 0 (giltrace record --cpus 0),
# srv.py on CPU 1, and prints each run's core_io (docs/diagnosis.md, "I/O
# that was CPU"). As root (uprobes).
set -eu
py=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
port=18801
taskset -c 1 "$py" "$here/srv.py" $port & srv=$!
trap 'kill $srv 2>/dev/null' EXIT
sleep 1
out=$(mktemp -d)
for n in "${@:-4 16}"; do
	for k in $n; do
		go run ./cmd/giltrace record --cpus 0 -o "$out/pool$k" --formats report-json -- "$py" "$here/pool_mix.py" "$k" $port > /dev/null
		echo "workers $k: $(go run ./cmd/giltrace report "$out/pool$k" --json | "$py" -c 'import json,sys; d=json.load(sys.stdin); print("achieved", d["speedup"]["achieved"], "core_io", d.get("core_io"), "cores_used", d["machine"]["cores_used"])')"
	done
done
