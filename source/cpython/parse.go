package cpython

import (
	"strconv"
	"strings"
)

// rawEvent is one line of the instance's trace_pipe: a probe hit or a
// task exit.
type rawEvent struct {
	mono  int64  // CLOCK_MONOTONIC, ns
	tid   int    // the task (thread) id
	tgid  int    // its process id, or 0 if tracefs did not know it
	event string // the event name, without the group
	args  []arg  // fetched arguments, in definition order
	lost  uint64 // for a "[LOST n EVENTS]" line: n (the other fields unset)

	frames   []rawFrame // drop_gil: the whole stack, once prefetched
	resolved bool
}

// arg is a fetched argument: a number or an array of numbers.
type arg struct {
	name string
	vals []uint64
}

// val returns the first value of argument name, or 0.
func (e *rawEvent) val(name string) uint64 {
	for _, a := range e.args {
		if a.name == name && len(a.vals) > 0 {
			return a.vals[0]
		}
	}
	return 0
}

// parseLine parses a trace_pipe line printed with options/record-tgid:
//
//	python3-11593   (  11579) [001] DBZff   359.580053: drop_gil: (0x7fa6ca04f3e0) ts=0x55.. f0={0x..,0x..}
//
// It reports false for lines it does not understand.
func parseLine(line string) (rawEvent, bool) {
	var e rawEvent
	if i := strings.Index(line, "[LOST "); i >= 0 {
		f := strings.Fields(line[i+6:])
		if len(f) > 0 {
			e.lost, _ = strconv.ParseUint(f[0], 10, 64)
			return e, e.lost > 0
		}
		return e, false
	}
	i := strings.Index(line, ") [")
	if i < 0 {
		return e, false
	}
	head := line[:i]
	j := strings.LastIndexByte(head, '(')
	if j < 0 {
		return e, false
	}
	e.tgid, _ = strconv.Atoi(strings.TrimSpace(head[j+1:]))
	left := strings.TrimSpace(head[:j])
	k := strings.LastIndexByte(left, '-')
	if k < 0 {
		return e, false
	}
	var err error
	if e.tid, err = strconv.Atoi(left[k+1:]); err != nil {
		return e, false
	}
	rest := line[i+3:]
	k = strings.IndexByte(rest, ']')
	if k < 0 {
		return e, false
	}
	rest = strings.TrimLeft(rest[k+1:], " ")
	// flags, then the timestamp "sec.frac:"
	if k = strings.IndexByte(rest, ' '); k < 0 {
		return e, false
	}
	rest = strings.TrimLeft(rest[k:], " ")
	k = strings.Index(rest, ": ")
	if k < 0 {
		return e, false
	}
	if e.mono, err = parseTimestamp(rest[:k]); err != nil {
		return e, false
	}
	rest = rest[k+2:]
	k = strings.Index(rest, ":")
	if k < 0 {
		return e, false
	}
	e.event = rest[:k]
	for _, tok := range strings.Fields(rest[k+1:]) {
		name, v, ok := strings.Cut(tok, "=")
		if !ok {
			continue
		}
		e.args = append(e.args, arg{name: name, vals: parseValues(v)})
	}
	return e, true
}

// parseTimestamp parses "seconds.fraction" into nanoseconds.
func parseTimestamp(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	ns := n * 1e9
	if frac != "" {
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return 0, err
		}
		for d := len(frac); d < 9; d++ {
			f *= 10
		}
		ns += f
	}
	return ns, nil
}

// parseValues parses "0x1f", "-3", "{0x1,0x2}"; an unreadable value
// (a fault) is 0.
func parseValues(s string) []uint64 {
	if strings.HasPrefix(s, "{") {
		s = strings.Trim(s, "{}")
		parts := strings.Split(s, ",")
		out := make([]uint64, len(parts))
		for i, p := range parts {
			out[i] = parseValue(p)
		}
		return out
	}
	return []uint64{parseValue(s)}
}

func parseValue(s string) uint64 {
	if strings.HasPrefix(s, "0x") {
		v, _ := strconv.ParseUint(s[2:], 16, 64)
		return v
	}
	if strings.HasPrefix(s, "-") {
		v, _ := strconv.ParseInt(s, 10, 64)
		return uint64(v)
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}
