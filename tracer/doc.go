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
// # Layers
//
// Events are recorded per thread into Buffers obtained from a Recorder (the
// hot path, lock-free and allocation-free). Recorder.Finish merges them into
// a Trace: tables of strings, processes, threads, locks, frames and stacks,
// and the events in time order. A Trace is written with Write and read with
// Read; CheckValid checks its invariants. Derive pairs the events once into
// spans (per-thread states, calls, holds, waits, handoffs, blame) for every
// exporter.
package tracer
