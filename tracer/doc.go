// Package tracer records what every thread of a GIL-locked VM does with
// the locks it contends for, and keeps it as a trace that can be written
// to a .giltrace file, read back, validated and turned into spans.
//
// # Vocabulary
//
// One word per concept, in code, flags, output and docs:
//
//   - lock: a mutual-exclusion lock of the guest. The GIL of each VM process
//     is a lock like the others (Lock.GIL is true); guest locks are
//     threading.Lock objects of the workload.
//   - wait: a thread asks for a lock that another thread holds and blocks
//     (KindLockWait). A thread that is neither holding the GIL nor blocked
//     in I/O, a native call or a guest lock is waiting for the GIL.
//   - acquire: a thread takes a lock (KindLockAcquire); how it got it is an
//     Acquire: uncontended, after a wait, or by a forced handoff.
//   - release: a thread lets a lock go (KindLockRelease); why is a Release.
//   - hold: the interval between an acquire and the matching release.
//   - drop request: a waiter that timed out after one switch interval asks
//     the holder to release the GIL (KindDropRequest, CPython's
//     gil_drop_request in the eval breaker).
//   - switch interval: how long a waiter waits before it sets the drop
//     request (sys.setswitchinterval, 5 ms by default).
//   - handoff: a release paired with the acquire of the same lock that it
//     enabled, by another thread or by the same one.
//   - forced switch: after a release on a drop request, the releasing thread
//     waits until another thread has taken the GIL (FORCE_SWITCHING).
//
// # Event protocol
//
// The VM emits events in this order; CheckValid checks it and Derive
// relies on it. "GIL" is the GIL of the thread's process; in free-threaded
// mode (Process.GIL == NoLock) every GIL event is left out.
//
//   - Life: ThreadStart first; then the GIL is acquired before any other
//     event; ThreadEnd last, after releasing every lock it holds
//     (ReleaseThreadEnd, or ReleaseInterrupt when the run was stopped).
//   - Acquiring any lock: if it is free, LockAcquire(AcquireUncontended)
//     alone; otherwise LockWait, then LockAcquire(AcquireAfterWait, or
//     AcquireForced when the previous holder released it on a drop request).
//   - Drop request (cpython mode): a thread that has waited one switch
//     interval emits DropRequest(GIL, holder) and keeps waiting. The holder
//     notices it at the eval breaker and emits LockRelease(ReleaseDropRequest),
//     then LockWait for the GIL again (forced switching: it acquires only
//     after another thread has).
//   - Legacy tick: LockRelease(ReleaseLegacyTick), then acquiring as above.
//   - Blocking I/O: IOBegin while holding the GIL, LockRelease(ReleaseIO),
//     the I/O, IOEnd, then acquiring the GIL.
//   - Native call releasing the GIL: NativeBegin(true), LockRelease(ReleaseNative),
//     the work, NativeEnd, then acquiring the GIL. Keeping the GIL:
//     NativeBegin(false), the work, NativeEnd.
//   - Guest lock: acquiring it while holding the GIL; if it is held by
//     another thread: LockWait(lock), LockRelease(GIL, ReleaseLockWait),
//     LockAcquire(lock, AcquireAfterWait), then acquiring the GIL. Released
//     with LockRelease(lock, ReleaseUnlock) while holding the GIL.
//   - Calls: CallEnter with the callee's stack at entry, CallExit with the
//     same stack at return, properly nested.
//
// A thread's time strictly increases (Buffer.Emit forces it). The acquire of
// a lock is never earlier than the release before it; at equal times, Less
// orders releases first.
//
// # Layers
//
// Events are recorded per thread into Buffers obtained from a Recorder (the
// hot path, lock-free and allocation-free). Recorder.Finish merges them into
// a Trace (a recorder whose buffers take turns, Config.Sequential, lays the
// events out in the order they were emitted instead, order.go): tables of strings, processes, threads, locks, frames and stacks,
// and the events in time order. A Trace is written with Write and read with
// Read; CheckValid checks its invariants. A Stream writes a run's trace while
// it is recorded (format version 2, so that a crash leaves a readable
// prefix); Read reads both versions, and ReadOptions.Salvage keeps the valid
// part of a damaged file. Status says what is partial about a trace
// (interrupted, truncated, dropped, salvaged). Derive pairs the events once into
// spans (per-thread states, calls, holds, waits, handoffs, blame) for every
// exporter.
package tracer
