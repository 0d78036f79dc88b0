package tracer

import "fmt"

// ThreadID identifies a thread: an index into Trace.Threads.
type ThreadID uint32

// NoThread is the ThreadID of no thread.
const NoThread ThreadID = 1<<32 - 1

// ProcID identifies a VM process: an index into Trace.Procs.
type ProcID uint32

// LockID identifies a lock (a GIL or a guest lock): an index into Trace.Locks.
type LockID uint32

// NoLock is the LockID of no lock.
const NoLock LockID = 1<<32 - 1

// StackID identifies an interned guest call stack: an index into
// Trace.Stacks. Stack 0 is the empty stack (NoStack).
type StackID uint32

// NoStack is the empty stack, outside every guest function.
const NoStack StackID = 0

// FrameID identifies a guest function location: an index into Trace.Frames.
type FrameID uint32

// StringID identifies a string: an index into Trace.Strings. String 0 is "".
type StringID uint32

// Kind says what an event records. The zero Kind is invalid.
type Kind uint8

// Event kinds. The meaning of Event.Arg depends on the kind; see the
// accessors on Event.
const (
	KindBad         Kind = iota
	KindThreadStart      // the thread begins; Arg: ThreadExisted if it existed before the trace began, else 0
	KindThreadEnd        // the thread ends; it holds no lock afterwards
	KindLockWait         // the thread starts waiting for Lock()
	KindLockAcquire      // the thread acquires Lock(), taken as Acquire()
	KindLockRelease      // the thread releases Lock(), because of Release()
	KindDropRequest      // the thread asks Peer(), holding Lock(), to drop it
	KindIOBegin          // blocking I/O of kind IOKind() begins
	KindIOEnd            // the blocking I/O ends
	KindNativeBegin      // a native call begins; ReleasesGIL() says how
	KindNativeEnd        // the native call ends
	KindCallEnter        // a guest function is entered; Stack includes it
	KindCallExit         // a guest function returns; Stack still includes it
	KindLine             // the thread moves on to another line of its current call, running: Stack is the call at that line
	numKinds
)

var kindNames = [...]string{
	KindBad:         "bad",
	KindThreadStart: "thread-start",
	KindThreadEnd:   "thread-end",
	KindLockWait:    "lock-wait",
	KindLockAcquire: "lock-acquire",
	KindLockRelease: "lock-release",
	KindDropRequest: "drop-request",
	KindIOBegin:     "io-begin",
	KindIOEnd:       "io-end",
	KindNativeBegin: "native-begin",
	KindNativeEnd:   "native-end",
	KindCallEnter:   "call-enter",
	KindCallExit:    "call-exit",
	KindLine:        "line",
}

// NumKinds is one more than the largest valid Kind.
const NumKinds = int(numKinds)

// Valid reports whether k is a known, non-zero kind.
func (k Kind) Valid() bool { return k > KindBad && k < numKinds }

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Acquire says how a lock was acquired.
type Acquire uint8

// Ways to acquire a lock.
const (
	AcquireUncontended Acquire = iota // taken at once, no wait
	AcquireAfterWait                  // taken after a wait
	AcquireForced                     // taken from a holder that dropped it on a drop request and waits for the switch
	numAcquires
)

var acquireNames = [...]string{"uncontended", "after-wait", "forced"}

func (a Acquire) String() string {
	if int(a) < len(acquireNames) {
		return acquireNames[a]
	}
	return fmt.Sprintf("acquire(%d)", uint8(a))
}

// Release says why a lock was released.
type Release uint8

// Reasons to release a lock.
const (
	ReleaseDropRequest Release = iota // the GIL, on a drop request (cpython mode)
	ReleaseIO                         // the GIL, around blocking I/O
	ReleaseNative                     // the GIL, around a GIL-releasing native call
	ReleaseLockWait                   // the GIL, while blocked on a guest lock
	ReleaseThreadEnd                  // any lock, because the thread ends
	ReleaseLegacyTick                 // the GIL, every check interval (legacy mode)
	ReleaseUnlock                     // a guest lock, released by the guest
	ReleaseInterrupt                  // any lock, because the run was stopped
	numReleases
)

var releaseNames = [...]string{"drop-request", "io", "native", "lock-wait", "thread-end", "legacy-tick", "unlock", "interrupt"}

func (r Release) String() string {
	if int(r) < len(releaseNames) {
		return releaseNames[r]
	}
	return fmt.Sprintf("release(%d)", uint8(r))
}

// Event is one recorded state change: a small value with no pointers.
//
// Arg packs the kind's argument: for lock events the LockID in bits 0-31
// and the Acquire or Release in bits 32-39; for a drop request the LockID in
// bits 0-31 and the holder's ThreadID in bits 32-63; for I/O the StringID of
// the I/O kind; for a native call 1 if it releases the GIL.
type Event struct {
	Time   int64    // nanoseconds since the run's start
	Arg    uint64   // see the accessors
	Thread ThreadID // the thread that did it
	Stack  StackID  // the thread's guest stack at the time
	Kind   Kind
}

// LockArg packs a lock and an Acquire or Release code into an Arg.
func LockArg(l LockID, code uint8) uint64 { return uint64(l) | uint64(code)<<32 }

// DropArg packs the lock and its holder into the Arg of a drop request.
func DropArg(l LockID, holder ThreadID) uint64 { return uint64(l) | uint64(holder)<<32 }

// ThreadExisted is the Arg of a KindThreadStart event for a thread that
// existed before the trace began (a process attached to): its start is not
// in the trace, and its first event is only when it was first seen.
const ThreadExisted uint64 = 1

// NativeArg packs whether a native call releases the GIL.
func NativeArg(releasesGIL bool) uint64 {
	if releasesGIL {
		return 1
	}
	return 0
}

// Lock is the lock of a lock event or drop request.
func (e Event) Lock() LockID { return LockID(uint32(e.Arg)) }

// Acquire is how the lock of a KindLockAcquire event was taken.
func (e Event) Acquire() Acquire { return Acquire(uint8(e.Arg >> 32)) }

// Release is why the lock of a KindLockRelease event was let go.
func (e Event) Release() Release { return Release(uint8(e.Arg >> 32)) }

// Peer is the holder asked to drop the lock by a KindDropRequest event.
func (e Event) Peer() ThreadID { return ThreadID(uint32(e.Arg >> 32)) }

// IOKind is the string naming the I/O kind of a KindIOBegin event.
func (e Event) IOKind() StringID { return StringID(e.Arg) }

// ReleasesGIL reports whether the native call of a KindNativeBegin event
// releases the GIL.
func (e Event) ReleasesGIL() bool { return e.Arg&1 != 0 }
