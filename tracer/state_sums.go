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
// safe for concurrent use; the slice must not be modified.
func (s *Spans) StateSums() []StateSum {
	s.stateSumsOnce.Do(func() { s.stateSums = s.sumStates() })
	return s.stateSums
}

func (s *Spans) sumStates() []StateSum {
	var out []StateSum
	var t stateKeys
	for i := range len(s.stateStart) - 1 {
		t.reset()
		first := len(out)
		last := -1 // the previous span's sum: a thread's spans often repeat a key
		sps := s.ThreadStates(ThreadID(i))
		for k := range sps {
			sp := &sps[k]
			if last >= 0 {
				if x := &out[last]; x.State == sp.State && x.Stack == sp.Stack && x.arg == sp.arg {
					x.Spans++
					x.NS += sp.End - sp.Start
					continue
				}
			}
			j, added := t.index(sp.State, sp.Stack, sp.arg, len(out)-first)
			if added {
				out = append(out, StateSum{Thread: sp.Thread, State: sp.State, Stack: sp.Stack, arg: sp.arg})
			}
			last = first + j
			x := &out[last]
			x.Spans++
			x.NS += sp.End - sp.Start
		}
	}
	return out
}

// stateKeys maps a thread's span key (state, stack, arg) to an index: an
// open addressing table, cleared per thread in the time of its keys.
type stateKeys struct {
	slots []stateSlot // a power of two long, at most half full
	n     int
	used  []int32
}

type stateSlot struct {
	stack StackID
	arg   uint32
	state State
	used  bool
	i     int32
}

func (t *stateKeys) reset() {
	for _, j := range t.used {
		t.slots[j] = stateSlot{}
	}
	t.n, t.used = 0, t.used[:0]
}

// index is the key's index, or next (added true) when it is new.
func (t *stateKeys) index(state State, stack StackID, arg uint32, next int) (i int, added bool) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := uint32(len(t.slots) - 1)
	h := uint32(stack)*0x9e3779b1 ^ arg*0x85ebca6b ^ uint32(state)*0xc2b2ae35
	for j := (h ^ h>>16) & mask; ; j = (j + 1) & mask {
		sl := &t.slots[j]
		if !sl.used {
			*sl = stateSlot{stack: stack, arg: arg, state: state, used: true, i: int32(next)}
			t.n++
			t.used = append(t.used, int32(j))
			return next, true
		}
		if sl.stack == stack && sl.arg == arg && sl.state == state {
			return int(sl.i), false
		}
	}
}

func (t *stateKeys) grow() {
	old := t.slots
	t.slots = make([]stateSlot, max(64, 2*len(old)))
	t.n, t.used = 0, t.used[:0]
	for _, sl := range old {
		if sl.used {
			t.index(sl.state, sl.stack, sl.arg, int(sl.i))
		}
	}
}
