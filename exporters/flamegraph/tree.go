package flamegraph

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/giltrace/giltrace/tracer"
)

// View is what a flame graph weighs its stacks by.
type View uint8

// The views. Each stack's root frames are a thread and a state, then the
// guest frames from the outermost call inwards.
const (
	// ViewWall: every thread's time in every state, charged to its stack.
	ViewWall View = iota + 1
	// ViewWait: every wait for a lock (the GIL, state gil-wait; a guest
	// lock, state lock-wait), charged to the waiting thread's stack.
	ViewWait
	// ViewBlame: every wait, charged to the thread that held the lock
	// meanwhile, its state and its stack; while no holder is shown, as in
	// the pprof blame profile, to the thread "(none)", the tracer.Unheld's
	// state and its frame: "handoff" and "[no holder]" (between a release
	// and the next acquire), "join" and "[the joined thread]" (a real
	// program's join lock), "unknown-holder" and "[holder not observed]" (a
	// guest lock of a real program recorded without its lock holds).
	ViewBlame
)

var viewNames = [...]string{"", "wall", "wait", "blame"}

func (v View) String() string {
	if v > 0 && int(v) < len(viewNames) {
		return viewNames[v]
	}
	return fmt.Sprintf("view(%d)", uint8(v))
}

// noHolder names the synthetic root frame (the thread) of blame with no
// holder, as the pprof blame profile's thread label does.
const noHolder = tracer.NoHolderThread

// key aggregates time: one (thread, state, stack).
type key struct {
	thread tracer.ThreadID // NoThread: no holder
	state  int             // a tracer.State, or unheldState(u) for no holder
	stack  tracer.StackID
}

// sums adds up time per key. A small cache of recent keys spares the
// map's hashing for most spans: a blame walk repeats a few keys.
type sums struct {
	m     map[key]int64
	cache [1024]struct {
		k  key
		ns int64
		ok bool
	}
}

func (s *sums) add(k key, ns int64) {
	h := uint32(k.thread)*0x9e3779b1 ^ uint32(k.stack)*0x85ebca6b ^ uint32(k.state)
	c := &s.cache[(h^h>>15)%uint32(len(s.cache))]
	if c.ok && c.k == k {
		c.ns += ns
		return
	}
	if c.ok {
		s.m[c.k] += c.ns // evict
	}
	c.k, c.ns, c.ok = k, ns, true
}

// total flushes the cache and returns the sums.
func (s *sums) total() map[key]int64 {
	for i := range s.cache {
		if c := &s.cache[i]; c.ok {
			s.m[c.k] += c.ns
			c.ok = false
		}
	}
	return s.m
}

// weigh sums the time of view v per (thread, state, stack).
func weigh(s *tracer.Spans, v View) (map[key]int64, error) {
	sums := &sums{m: make(map[key]int64)}
	switch v {
	case ViewWall:
		for _, x := range s.StateSums() { // the spans summed, shared with the other outputs
			sums.add(key{x.Thread, int(x.State), x.Stack}, x.NS)
		}
	case ViewWait:
		for i := range s.Waits {
			w := &s.Waits[i]
			if w.End <= w.Start {
				continue
			}
			st := tracer.StateGILWait
			if int(w.Lock) < len(s.Trace.Locks) && !s.Trace.Locks[w.Lock].GIL {
				st = tracer.StateLockWait
			}
			sums.add(key{w.Thread, int(st), w.Stack}, w.End-w.Start)
		}
	case ViewBlame:
		// The held parts of all waits, summed by holder
		// (tracer.Spans.WaitedSums: linear whatever the number of
		// waiters, and shared with the diagnosis), then the parts nobody
		// held.
		for _, w := range s.WaitedSums() {
			sums.add(key{w.Holder, int(w.State), w.Stack}, w.Waited)
		}
		for l := range s.Trace.Locks {
			u := s.Trace.UnheldOf(tracer.LockID(l))
			for wi, held := range s.HeldEach(tracer.LockID(l)) {
				if w := &s.Waits[wi]; w.End-w.Start-held > 0 {
					sums.add(key{tracer.NoThread, unheldState(u), tracer.NoStack}, w.End-w.Start-held)
				}
			}
		}
		for i := range s.Waits { // waits for no lock of the trace: nobody held it
			if w := &s.Waits[i]; int(w.Lock) >= len(s.Trace.Locks) && w.End > w.Start {
				sums.add(key{tracer.NoThread, unheldState(tracer.UnheldHandoff), tracer.NoStack}, w.End-w.Start)
			}
		}
	default:
		return nil, fmt.Errorf("unknown flame graph view %v", v)
	}
	return sums.total(), nil
}

// namer names the frames of a trace, sanitised for the folded format: no
// ';' (the frame separator) and no line breaks.
type namer struct {
	t       *tracer.Trace
	threads []string // per ThreadID
	frames  []string // per FrameID, "" until named
}

var sanitizer = strings.NewReplacer(";", ":", "\n", " ", "\r", " ")

func sanitize(s string) string {
	if strings.ContainsAny(s, ";\n\r") {
		return sanitizer.Replace(s)
	}
	return s
}

func newNamer(t *tracer.Trace) *namer {
	n := &namer{t: t, threads: make([]string, len(t.Threads)), frames: make([]string, len(t.Frames))}
	multi := len(t.Procs) > 1
	for i, th := range t.Threads {
		name := th.Name
		if multi && int(th.Proc) < len(t.Procs) {
			// Thread names repeat across processes: qualify them.
			name = t.Procs[th.Proc].Name + "/" + name
		}
		n.threads[i] = sanitize(name)
	}
	return n
}

func (n *namer) thread(id tracer.ThreadID) string {
	if int(id) < len(n.threads) {
		return n.threads[id]
	}
	return noHolder
}

// unheldState is the key's state of blame with no holder of kind u: below
// every tracer.State.
func unheldState(u tracer.Unheld) int { return -1 - int(u) }

func stateName(st int) string {
	if st < 0 {
		return tracer.Unheld(-1 - st).String()
	}
	return tracer.State(st).String()
}

// frame is the name of frame id: "func (file:line)", or "func" without a line.
func (n *namer) frame(id tracer.FrameID) string {
	if int(id) >= len(n.frames) {
		return "?"
	}
	if n.frames[id] == "" {
		f := n.t.Frames[id]
		name := f.Func
		if f.Line > 0 {
			name = fmt.Sprintf("%s (%s:%d)", f.Func, f.File, f.Line)
		}
		n.frames[id] = sanitize(name)
	}
	return n.frames[id]
}

// path appends the frame names of stack s, outermost first.
func (n *namer) path(out []string, s tracer.StackID) []string {
	start := len(out)
	for s != tracer.NoStack && int(s) < len(n.t.Stacks) {
		st := n.t.Stacks[s]
		out = append(out, n.frame(st.Frame))
		s = st.Parent
	}
	slices.Reverse(out[start:])
	return out
}

// stack is one folded stack: its frames, root first, and its time.
type stack struct {
	frames []string
	ns     int64
}

// stacks returns the weighed stacks of view v, sorted by their frames.
func stacks(s *tracer.Spans, v View) ([]stack, error) {
	sums, err := weigh(s, v)
	if err != nil {
		return nil, err
	}
	n := newNamer(s.Trace)
	out := make([]stack, 0, len(sums))
	for k, ns := range sums {
		frames := []string{n.thread(k.thread), stateName(k.state)}
		if k.state < 0 { // no holder: its synthetic frame
			frames = append(frames, tracer.Unheld(-1-k.state).Frame())
		}
		out = append(out, stack{frames: n.path(frames, k.stack), ns: ns})
	}
	slices.SortFunc(out, func(a, b stack) int {
		return cmp.Or(slices.Compare(a.frames, b.frames), cmp.Compare(a.ns, b.ns))
	})
	// Different keys may name the same frames (threads of one name): merge.
	merged := out[:0]
	for _, st := range out {
		if m := len(merged); m > 0 && slices.Equal(merged[m-1].frames, st.frames) {
			merged[m-1].ns += st.ns
			continue
		}
		merged = append(merged, st)
	}
	return merged, nil
}
