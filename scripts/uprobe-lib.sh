# uprobe-lib.sh, sourced by count-calls.sh and stack-growth.sh: runs a Go
# test binary with a uprobe at one of its functions, the probe's events
# kept in a tracefs instance of their own.
#
#   uprobe_run NAME BIN SYMBOL FETCHARGS ARGS...
#
# puts the probe NAME at SYMBOL's entry in BIN (FETCHARGS as
# uprobetracer.rst spells them, or empty), runs BIN ARGS... (its benchmark
# lines shown), and leaves the events in $UPROBE_TRACE. The probe and the
# instance are removed on every exit of the sourcing script (its EXIT
# trap; INT, TERM and HUP exit through it). Needs root, linux/amd64 and a
# mounted tracefs.

uprobe_run() {
	local name=$1 bin sym=$3 fetch=$4 addr segoff segaddr off
	bin=$(readlink -f "$2")
	shift 4
	UPROBE_TR=/sys/kernel/tracing
	[ -d "$UPROBE_TR/instances" ] || UPROBE_TR=/sys/kernel/debug/tracing
	[ -w "$UPROBE_TR/uprobe_events" ] || { echo "$0: $UPROBE_TR/uprobe_events is not writable (root and a mounted tracefs are needed)" >&2; exit 1; }
	addr=$(go tool nm "$bin" | awk -v s="$sym" '$3 == s { print $1 }' | head -1)
	[ -n "$addr" ] || { echo "$0: no function $sym in $bin (inlined everywhere, misspelt, or not a linux/amd64 Go binary?)" >&2; exit 1; }
	# The symbol's file offset: its address less its executable
	# segment's, plus that segment's offset in the file.
	read -r segoff segaddr < <(readelf -lW "$bin" | awk '$1 == "LOAD" && ($7 ~ /E/ || $8 ~ /E/) { print $2, $3; exit }')
	off=$(printf '0x%x' $((16#$addr - segaddr + segoff)))
	UPROBE_EVENT=${name}_$$
	UPROBE_INST=$UPROBE_TR/instances/$UPROBE_EVENT
	trap uprobe_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	echo "p:$UPROBE_EVENT $bin:$off $fetch" >>"$UPROBE_TR/uprobe_events"
	mkdir "$UPROBE_INST"
	echo 65536 >"$UPROBE_INST/buffer_size_kb" # per CPU: a default buffer overwrote the oldest events of a busy run
	echo 1 >"$UPROBE_INST/events/uprobes/$UPROBE_EVENT/enable"
	"$bin" "$@" | grep -E '^(Benchmark|ok|FAIL|PASS)' || true
	echo 0 >"$UPROBE_INST/events/uprobes/$UPROBE_EVENT/enable"
	UPROBE_TRACE=$UPROBE_INST/trace
}

uprobe_cleanup() {
	[ -n "${UPROBE_INST:-}" ] || return 0
	if [ -d "$UPROBE_INST" ]; then
		echo 0 >"$UPROBE_INST/events/uprobes/$UPROBE_EVENT/enable" 2>/dev/null || true
		rmdir "$UPROBE_INST" 2>/dev/null || true
	fi
	echo "-:$UPROBE_EVENT" >>"$UPROBE_TR/uprobe_events" 2>/dev/null || true
}
