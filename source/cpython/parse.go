package cpython

// rawEvent is one event read from the ring buffers: a probe hit, a task
// creation or a task exit.
type rawEvent struct {
	mono  int64        // CLOCK_MONOTONIC, ns
	tid   int          // the task (thread) id
	copy  copyKind     // for a late task (rawReader.late), which of its events wrote it
	tgid  int          // its process id, once known
	event string       // the event name, without the group (a probe on an inlined copy: the function's, unalias)
	inl   *inlineProbe // the probe on an inlined copy that made it, or nil
	args  []arg        // fields, in format order

	// holder_sample: the Python name of thread nameTID, read with the
	// stack (0: none).
	name    string
	nameTID int

	frames   []rawFrame // drop_gil: the whole stack, once prefetched
	codes    []*code    // the code object of each frame, read then
	resolved bool
}

// arg is a field: a number or an array of numbers.
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

// has reports whether the event has argument name.
func (e *rawEvent) has(name string) bool {
	for _, a := range e.args {
		if a.name == name {
			return true
		}
	}
	return false
}
