package tracer

// StateSum is a thread's time in one state with one stack (and one lock,
// or one I/O kind): its state spans of that key, counted and summed.
type StateSum struct {
	Thread ThreadID
	State  State
	Stack  StackID
	arg    uint32 // as StateSpan's: the lock of a wait state, the I/O kind of StateIO
	Spans  int    // the spans summed
	NS     int64  // their time
}

// Lock is the lock waited for in StateGILWait and StateLockWait, else
// NoLock.
func (x StateSum) Lock() LockID {
	return StateSpan{State: x.State, arg: x.arg}.Lock()
}

// IOKind is the I/O kind in StateIO, else 0.
func (x StateSum) IOKind() StringID {
	return StateSpan{State: x.State, arg: x.arg}.IOKind()
}

// StateSums is the state spans summed by thread, state, stack, and lock or
// I/O kind: what the wall profile, the folded stacks, the flame graph's
// wall view and the diagnosis's time per function and per thread's root
// function each summed from every span on its own, one pass over the
// spans for all of them. By thread, then in the order each key first
// appears in the thread's spans. Computed once, on first use, and shared:
// safe for concurrent use; the slice must not be modified. For the Spans
// of Derive (whose spans are each of positive length, by thread).
func (s *Spans) StateSums() []StateSum {
	s.stateSumsOnce.Do(func() { s.stateSums = s.sumStates() })
	return s.stateSums
}

func (s *Spans) sumStates() []StateSum {
	var out []StateSum
	// A thread's keys, numbered: the table of the blame sweep's holder
	// keys, a span's word in the holder's place.
	var t keyTable
	for i := range len(s.stateStart) - 1 {
		t.reset()
		first := len(out)
		sps := s.ThreadStates(ThreadID(i))
		for k := range sps {
			sp := &sps[k]
			j, added := t.index(ThreadID(sp.arg), sp.Stack, sp.State, len(out)-first)
			if added {
				out = append(out, StateSum{Thread: sp.Thread, State: sp.State, Stack: sp.Stack, arg: sp.arg})
			}
			x := &out[first+j]
			x.Spans++
			x.NS += sp.End - sp.Start
		}
	}
	return out
}
