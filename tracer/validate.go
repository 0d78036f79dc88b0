package tracer

import (
	"fmt"
	"strings"
)

// ValidationError is a trace that breaks an invariant of the event
// protocol (see the package documentation).
type ValidationError struct {
	Event  int    // index of the offending event, or -1 for the tables and the trace's end
	Time   int64  // its time
	Thread string // its thread's name, if any
	Kind   Kind   // its kind
	Msg    string // what is wrong and what was expected
}

func (e *ValidationError) Error() string {
	if e.Event < 0 {
		return e.Msg
	}
	return fmt.Sprintf("event %d (%s at %dns, thread %q): %s", e.Event, e.Kind, e.Time, e.Thread, e.Msg)
}

// CheckValid checks every invariant of the event protocol and of the
// tables: every reference resolves, the stack trie is acyclic (a parent
// precedes its child), events are in Less order with strictly increasing
// times per thread, each thread starts first and ends last (its end may be
// missing only if the trace is Truncated or Dropped events), a lock has at
// most one holder and is released by it, a thread uses only locks of its
// own process, every acquire after a wait follows a wait, I/O and native
// calls are balanced and not nested, calls are nested, every event carries
// its thread's current stack (or the same call at another line of its
// function: the thread moved on to another operation), drop requests target the GIL's holder, and a
// thread holds no lock when it ends. A thread may end inside I/O, a native
// call, a wait or calls (a stopped run).
//
// It returns the first violation as a *ValidationError, naming the event,
// its time and thread and what was expected: later violations usually
// follow from the first. It does not modify t and may be called
// concurrently.
func (t *Trace) CheckValid() error {
	if err := t.checkTables(); err != nil {
		return err
	}
	c := newChecker(t)
	for i := range t.Events {
		if msg := c.event(i); msg != "" {
			e := &t.Events[i]
			return &ValidationError{Event: i, Time: e.Time, Thread: c.threadName(e.Thread), Kind: e.Kind, Msg: msg}
		}
	}
	return c.end()
}

func tableError(format string, args ...any) error {
	return &ValidationError{Event: -1, Msg: fmt.Sprintf(format, args...)}
}

// MaxStackDepth is the most frames a stack of a trace may have. The
// recorders keep far fewer (32 for a real program, the VM's call chains
// 32), and the flame graph and the wall profile cost stack depth times
// events (QA: a crafted 230 KB trace of a 20 000-frame stack took 6 GB
// and 90 s to export).
const MaxStackDepth = 1024

// checkTables checks that every reference between tables resolves, and
// that no stack is deeper than MaxStackDepth.
func (t *Trace) checkTables() error {
	if len(t.Strings) == 0 || t.Strings[0] != "" {
		return tableError("string 0 must be \"\" (the table has %d strings)", len(t.Strings))
	}
	if len(t.Stacks) == 0 || t.Stacks[0] != (Stack{}) {
		return tableError("stack 0 must be the root {0 0} (the table has %d stacks)", len(t.Stacks))
	}
	depth := make([]uint16, len(t.Stacks)) // frames from the root; parents come first
	for i, s := range t.Stacks[1:] {
		id := i + 1
		if int(s.Parent) >= id {
			return tableError("stack %d: parent %d does not precede it", id, s.Parent)
		}
		if int(s.Frame) >= len(t.Frames) {
			return tableError("stack %d: frame %d not in the table of %d frames", id, s.Frame, len(t.Frames))
		}
		if depth[id] = depth[s.Parent] + 1; depth[id] > MaxStackDepth {
			return tableError("stack %d: deeper than %d frames, the limit (giltrace records a few dozen at most)", id, MaxStackDepth)
		}
	}
	for i, p := range t.Procs {
		if p.PID < 1 {
			return tableError("process %d (%q): pid %d, expected >= 1", i, p.Name, p.PID)
		}
		if p.GIL == NoLock {
			continue
		}
		if int(p.GIL) >= len(t.Locks) {
			return tableError("process %d (%q): GIL %d not in the table of %d locks", i, p.Name, p.GIL, len(t.Locks))
		}
		if l := t.Locks[p.GIL]; !l.GIL || l.Proc != ProcID(i) {
			return tableError("process %d (%q): GIL %d (%q) is not a GIL of this process", i, p.Name, p.GIL, l.Name)
		}
	}
	for i, th := range t.Threads {
		if int(th.Proc) >= len(t.Procs) {
			return tableError("thread %d (%q): process %d not in the table of %d processes", i, th.Name, th.Proc, len(t.Procs))
		}
	}
	for i, l := range t.Locks {
		if int(l.Proc) >= len(t.Procs) {
			return tableError("lock %d (%q): process %d not in the table of %d processes", i, l.Name, l.Proc, len(t.Procs))
		}
		if l.GIL && t.Procs[l.Proc].GIL != LockID(i) {
			return tableError("lock %d (%q) is a GIL but not its process's GIL", i, l.Name)
		}
	}
	return nil
}

// threadCheck is what CheckValid tracks per thread.
type threadCheck struct {
	started, ended bool
	io             bool
	native         uint8 // 0: none; nativeHolding; nativeReleasing
	last           int64
	stack          StackID
	held           int    // locks held
	waiting        LockID // the lock waited for, or NoLock
	gil            LockID // its process's GIL, or NoLock
}

const (
	nativeHolding   = 1
	nativeReleasing = 2
)

type checker struct {
	t      *Trace
	ths    []threadCheck
	holder []ThreadID // per lock
	since  []int64    // per lock: time of its acquire
}

func newChecker(t *Trace) *checker {
	c := &checker{t: t, ths: make([]threadCheck, len(t.Threads)),
		holder: make([]ThreadID, len(t.Locks)), since: make([]int64, len(t.Locks))}
	for i := range c.ths {
		c.ths[i] = threadCheck{waiting: NoLock, gil: t.Procs[t.Threads[i].Proc].GIL}
	}
	for i := range c.holder {
		c.holder[i] = NoThread
	}
	return c
}

func (c *checker) threadName(id ThreadID) string {
	if int(id) < len(c.t.Threads) {
		return c.t.Threads[id].Name
	}
	return fmt.Sprintf("#%d", id)
}

func (c *checker) lockName(l LockID) string {
	return fmt.Sprintf("%q", c.t.Locks[l].Name)
}

// event checks event i and returns what is wrong with it, or "".
func (c *checker) event(i int) string {
	t := c.t
	e := &t.Events[i]
	switch {
	case !e.Kind.Valid():
		return "invalid kind"
	case int(e.Thread) >= len(t.Threads):
		return fmt.Sprintf("thread %d not in the table of %d threads", e.Thread, len(t.Threads))
	case int(e.Stack) >= len(t.Stacks):
		return fmt.Sprintf("stack %d not in the table of %d stacks", e.Stack, len(t.Stacks))
	case e.Time < 0:
		return "negative time"
	case i > 0 && Less(e, &t.Events[i-1]):
		p := &t.Events[i-1]
		return fmt.Sprintf("out of order: it sorts before event %d (%s at %dns, thread %q)", i-1, p.Kind, p.Time, c.threadName(p.Thread))
	}
	ts := &c.ths[e.Thread]
	switch {
	case ts.ended:
		return "after the thread's thread-end"
	case !ts.started && e.Kind != KindThreadStart:
		return "the thread's first event, expected thread-start"
	case ts.started && e.Kind == KindThreadStart:
		return "a second thread-start"
	case ts.started && e.Time <= ts.last:
		return fmt.Sprintf("time not after the thread's previous event at %dns", ts.last)
	}
	ts.started, ts.last = true, e.Time
	if msg := c.stack(ts, e); msg != "" {
		return msg
	}
	switch e.Kind {
	case KindLockWait, KindLockAcquire, KindLockRelease, KindDropRequest:
		return c.lockEvent(ts, e)
	case KindThreadEnd:
		if ts.held > 0 {
			return fmt.Sprintf("the thread still holds lock %s, expected every lock released", c.lockName(c.heldBy(e.Thread)))
		}
		ts.ended = true
	default:
		return c.ioNativeEvent(ts, e)
	}
	return ""
}

// stack checks e's stack against the thread's current stack and follows
// calls.
func (c *checker) stack(ts *threadCheck, e *Event) string {
	switch e.Kind {
	case KindCallEnter:
		if e.Stack == NoStack || c.t.Stacks[e.Stack].Parent != ts.stack && !c.sameCall(c.t.Stacks[e.Stack].Parent, ts.stack) {
			return fmt.Sprintf("stack %d is not a call from the thread's current stack %d", e.Stack, ts.stack)
		}
		if msg := c.needGIL(ts, e); msg != "" {
			return msg
		}
		ts.stack = e.Stack
	case KindCallExit:
		if e.Stack == NoStack || e.Stack != ts.stack && !c.sameCall(e.Stack, ts.stack) {
			return fmt.Sprintf("stack %d, expected the thread's current call's stack %d", e.Stack, ts.stack)
		}
		if msg := c.needGIL(ts, e); msg != "" {
			return msg
		}
		ts.stack = c.t.Stacks[e.Stack].Parent
	default:
		if e.Stack != ts.stack && !c.sameCall(e.Stack, ts.stack) {
			return fmt.Sprintf("stack %d, expected the thread's current stack %d", e.Stack, ts.stack)
		}
		ts.stack = e.Stack
	}
	return ""
}

// sameCall reports whether stacks a and b are the same call at two lines:
// the same caller's stack, and innermost frames of the same function in
// the same file (the thread moved on to another operation of it).
func (c *checker) sameCall(a, b StackID) bool {
	if a == NoStack || b == NoStack {
		return false
	}
	sa, sb := c.t.Stacks[a], c.t.Stacks[b]
	fa, fb := c.t.Frames[sa.Frame], c.t.Frames[sb.Frame]
	return sa.Parent == sb.Parent && fa.Func == fb.Func && fa.File == fb.File
}

// holds reports whether the thread of ts holds its process's GIL (true if
// the process has none).
func (c *checker) holds(ts *threadCheck, th ThreadID) bool {
	return ts.gil == NoLock || c.holder[ts.gil] == th
}

func (c *checker) needGIL(ts *threadCheck, e *Event) string {
	if !c.holds(ts, e.Thread) {
		return fmt.Sprintf("the thread does not hold its GIL %s, expected to run only while holding it", c.lockName(ts.gil))
	}
	return ""
}

func (c *checker) heldBy(th ThreadID) LockID {
	for l, h := range c.holder {
		if h == th {
			return LockID(l)
		}
	}
	return NoLock
}

// lockEvent checks a wait, acquire, release or drop request.
func (c *checker) lockEvent(ts *threadCheck, e *Event) string {
	l := e.Lock()
	if int(l) >= len(c.t.Locks) {
		return fmt.Sprintf("lock %d not in the table of %d locks", l, len(c.t.Locks))
	}
	lk := &c.t.Locks[l]
	if lk.Proc != c.t.Threads[e.Thread].Proc {
		return fmt.Sprintf("lock %s belongs to process %d, the thread to process %d", c.lockName(l), lk.Proc, c.t.Threads[e.Thread].Proc)
	}
	switch e.Kind {
	case KindLockWait:
		return c.wait(ts, e, l)
	case KindLockAcquire:
		return c.acquire(ts, e, l)
	case KindLockRelease:
		return c.release(ts, e, l)
	}
	return c.dropRequest(ts, e, l)
}

func (c *checker) wait(ts *threadCheck, e *Event, l LockID) string {
	switch {
	case e.Arg>>32 != 0:
		return fmt.Sprintf("argument %#x has bits beyond the lock", e.Arg)
	case ts.waiting != NoLock:
		return fmt.Sprintf("already waiting for lock %s", c.lockName(ts.waiting))
	case c.holder[l] == e.Thread:
		return fmt.Sprintf("waits for lock %s that it holds", c.lockName(l))
	case !c.t.Locks[l].GIL:
		if msg := c.needGIL(ts, e); msg != "" {
			return msg
		}
	}
	ts.waiting = l
	return ""
}

func (c *checker) acquire(ts *threadCheck, e *Event, l LockID) string {
	how := e.Acquire()
	switch {
	case e.Arg>>40 != 0 || how >= numAcquires:
		return fmt.Sprintf("argument %#x is not a lock and an Acquire", e.Arg)
	case c.holder[l] != NoThread:
		return fmt.Sprintf("lock %s is held by thread %q since %dns, expected it free (one holder at a time)",
			c.lockName(l), c.threadName(c.holder[l]), c.since[l])
	case how == AcquireUncontended && ts.waiting != NoLock:
		return fmt.Sprintf("uncontended acquire while waiting for lock %s", c.lockName(ts.waiting))
	case how != AcquireUncontended && ts.waiting != l:
		return fmt.Sprintf("acquire %s of lock %s, expected a lock-wait for it first", how, c.lockName(l))
	case how == AcquireForced && !c.t.Locks[l].GIL:
		return fmt.Sprintf("forced acquire of %s, which is not a GIL", c.lockName(l))
	case how == AcquireUncontended && !c.t.Locks[l].GIL:
		if msg := c.needGIL(ts, e); msg != "" {
			return msg
		}
	}
	ts.waiting = NoLock
	c.holder[l], c.since[l] = e.Thread, e.Time
	ts.held++
	return ""
}

func (c *checker) release(ts *threadCheck, e *Event, l LockID) string {
	why := e.Release()
	gil := c.t.Locks[l].GIL
	switch {
	case e.Arg>>40 != 0 || why >= numReleases:
		return fmt.Sprintf("argument %#x is not a lock and a Release", e.Arg)
	case c.holder[l] == NoThread:
		return fmt.Sprintf("lock %s is not held, expected the thread to hold it", c.lockName(l))
	case c.holder[l] != e.Thread:
		return fmt.Sprintf("lock %s is held by thread %q, expected only its holder to release it", c.lockName(l), c.threadName(c.holder[l]))
	case !gil && why != ReleaseUnlock && why != ReleaseThreadEnd && why != ReleaseInterrupt:
		return fmt.Sprintf("guest lock %s released for %s, expected unlock, thread-end or interrupt", c.lockName(l), why)
	case gil && why == ReleaseUnlock:
		return fmt.Sprintf("GIL %s released by unlock, which is for guest locks", c.lockName(l))
	case why == ReleaseIO && !ts.io:
		return "GIL released for I/O outside io-begin/io-end"
	case why == ReleaseNative && ts.native != nativeReleasing:
		return "GIL released for a native call outside a GIL-releasing native-begin/native-end"
	case why == ReleaseLockWait && (ts.waiting == NoLock || c.t.Locks[ts.waiting].GIL):
		return "GIL released for a lock wait, expected a lock-wait for a guest lock first"
	case why == ReleaseUnlock:
		if msg := c.needGIL(ts, e); msg != "" {
			return msg
		}
	}
	c.holder[l] = NoThread
	ts.held--
	return ""
}

func (c *checker) dropRequest(ts *threadCheck, e *Event, l LockID) string {
	peer := e.Peer()
	switch {
	case !c.t.Locks[l].GIL:
		return fmt.Sprintf("drop request for lock %s, which is not a GIL", c.lockName(l))
	case int(peer) >= len(c.t.Threads):
		return fmt.Sprintf("peer thread %d not in the table of %d threads", peer, len(c.t.Threads))
	case c.holder[l] != peer:
		h := "nobody"
		if c.holder[l] != NoThread {
			h = fmt.Sprintf("thread %q", c.threadName(c.holder[l]))
		}
		return fmt.Sprintf("asks thread %q to drop %s, but it is held by %s", c.threadName(peer), c.lockName(l), h)
	case ts.waiting != l:
		return fmt.Sprintf("the requester is not waiting for %s, expected a lock-wait for it first", c.lockName(l))
	}
	return ""
}

// ioNativeEvent checks I/O, native calls and thread starts.
func (c *checker) ioNativeEvent(ts *threadCheck, e *Event) string {
	switch e.Kind {
	case KindLine:
		switch {
		case ts.io || ts.native != 0:
			return "line inside I/O or a native call, expected the thread running"
		case ts.waiting != NoLock:
			return fmt.Sprintf("line while waiting for lock %s, expected the thread running", c.lockName(ts.waiting))
		case e.Arg != 0:
			return fmt.Sprintf("argument %d, expected 0", e.Arg)
		}
		return c.needGIL(ts, e)
	case KindIOBegin:
		switch {
		case ts.io || ts.native != 0:
			return "io-begin inside I/O or a native call, expected no nesting"
		case int(e.IOKind()) >= len(c.t.Strings) || e.Arg>>32 != 0:
			return fmt.Sprintf("I/O kind %d not in the table of %d strings", e.Arg, len(c.t.Strings))
		}
		ts.io = true
		return c.needGIL(ts, e)
	case KindIOEnd:
		switch {
		case !ts.io:
			return "io-end without io-begin"
		case ts.gil != NoLock && c.holder[ts.gil] == e.Thread:
			return fmt.Sprintf("io-end while holding GIL %s, expected it released for the I/O", c.lockName(ts.gil))
		}
		ts.io = false
	case KindNativeBegin:
		switch {
		case ts.io || ts.native != 0:
			return "native-begin inside I/O or a native call, expected no nesting"
		case e.Arg > 1:
			return fmt.Sprintf("argument %d, expected 0 or 1", e.Arg)
		}
		ts.native = nativeHolding + uint8(e.Arg)
		return c.needGIL(ts, e)
	case KindNativeEnd:
		switch {
		case ts.native == 0:
			return "native-end without native-begin"
		case ts.native == nativeReleasing && ts.gil != NoLock && c.holder[ts.gil] == e.Thread:
			return fmt.Sprintf("GIL-releasing native call ends holding GIL %s, expected it released", c.lockName(ts.gil))
		case ts.native == nativeHolding && !c.holds(ts, e.Thread):
			return fmt.Sprintf("GIL-holding native call ends without GIL %s, expected it kept", c.lockName(ts.gil))
		}
		ts.native = 0
	}
	return ""
}

// end checks that every started thread ended, unless the trace was cut.
func (c *checker) end() error {
	if c.t.Truncated || c.t.Dropped > 0 {
		return nil
	}
	var open []string
	for i, ts := range c.ths {
		if ts.started && !ts.ended {
			open = append(open, fmt.Sprintf("%q", c.t.Threads[i].Name))
		}
	}
	if len(open) > 0 {
		return tableError("thread %s has no thread-end, expected one unless the trace is truncated or dropped events", strings.Join(open, ", "))
	}
	return nil
}
