package tracer

import (
	"fmt"
	"sync"
)

// State is what a thread is doing at a moment.
type State uint8

// Thread states. Every moment of a thread's life, from its start to its
// end, is in exactly one state.
const (
	StateRunning       State = iota // executing bytecode: holding the GIL, or free-threaded
	StateGILWait                    // runnable but without its process's GIL
	StateIO                         // in blocking I/O, GIL released
	StateNative                     // in a native call that released the GIL
	StateNativeHolding              // in a native call that keeps the GIL
	StateLockWait                   // blocked on a guest lock, GIL released
	NumStates          = 6
)

var stateNames = [NumStates]string{"running", "gil-wait", "io", "native", "native-holding", "lock-wait"}

func (s State) String() string {
	if int(s) < NumStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseState returns the State named s.
func ParseState(s string) (State, bool) {
	for i, n := range stateNames {
		if n == s {
			return State(i), true
		}
	}
	return 0, false
}

// ThreadSpan is a thread's life.
type ThreadSpan struct {
	Thread     ThreadID
	Start, End int64 // ThreadStart and ThreadEnd, or the trace's end if cut off
	Ended      bool  // a ThreadEnd event was recorded
	// Existed: the thread existed before the trace began (its ThreadStart
	// says ThreadExisted): Start is when it was first seen, not when it
	// started, and says nothing about what it waited for.
	Existed bool
}

// StateSpan is an interval in one state with one guest stack. A thread's
// state spans are gap-free from its start to its end; a new span begins
// when the state, the stack, the lock or the I/O kind changes.
//
// A span is 32 bytes: the lock and the I/O kind share a word (a span has
// at most one of them), read through Lock and IOKind. Every exporter and
// the diagnosis read all of a run's spans, so their size is much of the
// cost of reading them (docs/performance.md).
type StateSpan struct {
	Start, End int64
	Thread     ThreadID
	Stack      StackID
	arg        uint32 // the lock of a wait state, the I/O kind of StateIO
	State      State
}

// NewStateSpan is a span of thread in state st over [start, end) with
// stack; lock is kept only for StateGILWait and StateLockWait, ioKind
// only for StateIO.
func NewStateSpan(thread ThreadID, st State, start, end int64, stack StackID, lock LockID, ioKind StringID) StateSpan {
	sp := StateSpan{Thread: thread, State: st, Start: start, End: end, Stack: stack}
	switch st {
	case StateGILWait, StateLockWait:
		sp.arg = uint32(lock)
	case StateIO:
		sp.arg = uint32(ioKind)
	}
	return sp
}

// Lock is the lock waited for in StateGILWait and StateLockWait, else
// NoLock.
func (sp StateSpan) Lock() LockID {
	if sp.State == StateGILWait || sp.State == StateLockWait {
		return LockID(sp.arg)
	}
	return NoLock
}

// IOKind is the I/O kind in StateIO, else 0.
func (sp StateSpan) IOKind() StringID {
	if sp.State == StateIO {
		return StringID(sp.arg)
	}
	return 0
}

// CallSpan is one call of a guest function.
type CallSpan struct {
	Thread     ThreadID
	Stack      StackID // the callee's stack; its top frame is the function
	Depth      int     // 1 for a thread's outermost call
	Start, End int64
}

// Hold is the interval a thread held a lock.
type Hold struct {
	Lock       LockID
	Thread     ThreadID
	Start, End int64
	How        Acquire
	Why        Release // ReleaseThreadEnd if the trace ended while held
	Stack      StackID // the thread's stack at the acquire
}

// Wait is a maximal interval a thread spent waiting for a lock, ended by
// its acquire (or by the end of the trace).
type Wait struct {
	Lock       LockID
	Thread     ThreadID
	Start, End int64
	Stack      StackID // the waiter's stack
	Contended  bool    // a KindLockWait was recorded (not only the instant before an uncontended acquire)
	Acquired   bool    // ended by an acquire
}

// Blame is a part of a wait during which one holder (or nobody, between a
// release and the next acquire) had the lock, with the holder's stack.
type Blame struct {
	Holder     ThreadID // NoThread while nobody held it
	Stack      StackID  // the holder's stack during this part
	State      State    // the holder's state during this part (running or native-holding for the GIL)
	Start, End int64
}

// Handoff pairs a release with the next acquire of the same lock. (Its
// times first: 32 bytes, not the 40 that padding made of the lock and the
// threads first, one per acquire of a run.)
type Handoff struct {
	Released, Acquired int64
	Lock               LockID
	From, To           ThreadID
	Why                Release
	How                Acquire
}

// DropRequest is a drop request: Thread asked Holder to release Lock.
type DropRequest struct {
	Time   int64
	Thread ThreadID
	Holder ThreadID
	Lock   LockID
	Stack  StackID // the requester's stack
}

// Spans are the views derived once from a trace's events. Every slice is in
// a deterministic order: by thread then time for per-thread views, by time
// then thread otherwise.
type Spans struct {
	Trace        *Trace
	Threads      []ThreadSpan  // indexed by ThreadID
	States       []StateSpan   // by thread, then time
	Calls        []CallSpan    // by thread, then start, outer before inner
	Holds        []Hold        // by start
	Waits        []Wait        // by start
	Handoffs     []Handoff     // by acquire time
	DropRequests []DropRequest // by time
	stateStart   []int         // States[stateStart[t]:stateStart[t+1]] are thread t's

	// Holds and waits grouped by lock, in time order:
	// lockHolds[lockHoldStart[l]:lockHoldStart[l+1]] index lock l's holds,
	// and heldBefore, from lockHoldStart[l]+l, the held time before each.
	holdSpan      []int32 // per hold: where to start looking in its holder's state spans
	lockHolds     []int32
	lockHoldStart []int
	lockWaits     []int32
	lockWaitStart []int
	heldBefore    []int64

	waitedOnce sync.Once   // WaitedSums, computed on first use
	waitedSums []WaitedSum // by lock, then holder, stack and state

	planOnce    sync.Once   // PlanBlameSums, or the first WaitedSums without it
	planMax     int         // the plan's bound on the parts; -1 for none
	blameOnce   sync.Once   // BlameSums, computed on first use
	blame       blameSums   // what BlameSums returns
	blameWaited []WaitedSum // WaitedSums from BlameSums' sweep
	partsOnce   sync.Once   // TotalBlameParts, computed on first use
	parts       int

	stateSumsOnce sync.Once  // StateSums, computed on first use
	stateSums     []StateSum // by thread, then key in order of first appearance

	pollsOnce sync.Once // Polls, computed on first use
	polls     map[ThreadID]*Poll

	chainsOnce sync.Once // WaitChains and LoopedTimeouts, computed on first use
	chains     map[ThreadID][]WaitChain
	looped     map[ThreadID][]int
	loopWait   map[ThreadID]int64

	writesOnce sync.Once // Writer's index, built on first use
	writes     []int     // the I/O spans that may be a write, by end
	writesBy   []int     // the same, by start (WriterElsewhere)
}

// ThreadStates returns the state spans of thread id, in time order.
func (s *Spans) ThreadStates(id ThreadID) []StateSpan {
	return s.States[s.stateStart[id]:s.stateStart[id+1]]
}

// Totals is time per state, in nanoseconds.
type Totals [NumStates]int64

// Sum is the total of all states.
func (t Totals) Sum() int64 {
	var n int64
	for _, v := range t {
		n += v
	}
	return n
}

// ThreadTotals returns the time thread id spent in each state. The sum is
// the thread's wall time.
func (s *Spans) ThreadTotals(id ThreadID) Totals {
	var tot Totals
	for _, sp := range s.ThreadStates(id) {
		tot[sp.State] += sp.End - sp.Start
	}
	return tot
}
