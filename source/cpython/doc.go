// Package cpython records real, unmodified CPython programs into a tracer
// trace, through Linux uprobes on the interpreter's own functions. It is
// the tracer.Source of `giltrace record -- python3 app.py` and `giltrace
// attach PID`: every exporter and the diagnosis work on its traces as on
// the VM's.
//
//	src := cpython.Command([]string{"python3", "app.py"}, cpython.Options{Stdout: os.Stdout})
//	t, err := tracer.Record(ctx, src, tracer.Config{})
//	code := src.ExitCode()
//
// # How
//
// The interpreter is the ELF file holding take_gil: the python executable
// or the libpython it links (RUNPATH, LD_LIBRARY_PATH, ldconfig), or, for
// a running process, the libpython in /proc/PID/maps. Its symbol table
// gives the probed functions (symbol address to file offset through the
// PT_LOAD program headers) and its DWARF the struct offsets (thread state,
// frames, code objects, strings, dicts, the GIL's interval): nothing is
// hard-coded per version.
//
// A run defines a uprobe group giltrace_<pid> in tracefs and opens its
// events through perf_event_open for the traced tasks only, inheriting
// into the tasks they create (perf.go: a probe is armed in the traced
// processes, never in another process of the same interpreter), reads the
// per-CPU rings, holds each event for a short reorder window and hands
// the events in time order to a state machine that emits the event
// protocol of package tracer. The events are closed and the group removed
// on every exit path; a later run removes the group of a run that was
// killed (whose probes the kernel disarmed as it died).
// A Command starts behind a gate (a shell waiting on a pipe, then exec):
// its pid is traced before it runs any code.
//
// # Probes and what they show
//
//   - take_gil (entry, return): a wait for the GIL (when another thread
//     holds it, or took it meanwhile) and the acquire; the acquire is
//     forced when the previous holder released on a drop request.
//   - drop_gil: a release, with the thread state, from which the probe
//     fetches the innermost frame (and, with Options.StackWindow on 3.11+,
//     the data stack below it, which holds its callers); the other callers
//     are read from the process's memory when the hit is read.
//   - PyEval_SaveThread (its caller's address): the release that follows
//     is a blocking call (Py_BEGIN_ALLOW_THREADS), classified by that
//     caller: I/O "sleep", "network", "disk", "wait", "blocking"
//     (unknown), or a GIL-releasing native call (hashlib, zlib, any other
//     extension module). A release without it is the eval breaker's answer
//     to a drop request.
//   - PyThread_acquire_lock_timed (entry): inside a blocking call, a
//     blocking acquire makes it a wait for a guest lock "lock 0x..." (3.13
//     also _PyParkingLot_Park and _PyThreadState_Detach, for Thread.join).
//   - With Options.LockHolds: PyThread_acquire_lock_timed's return value
//     (PY_LOCK_ACQUIRED: a hold begins, uncontended or at the end of its
//     wait) and PyThread_release_lock (the hold ends), probed past its
//     leading stack adjustment, which the kernel would otherwise run out
//     of line. threading.Lock and RLock are PyThread locks in 3.9 to 3.13.
//     A release by another thread than the holder, a lock never released,
//     a lock freed while held leave the trace valid (locks.go has the
//     rules); a lock that only one thread held and none waited for is left
//     out.
//   - _PyThreadState_DeleteCurrent: the next release ends the thread;
//     sched_process_exit ends threads that never get there;
//     task_newtask tells each new task's process.
//
// Inferred, not observed: drop requests (a waiter that has waited one
// switch interval while the holder kept the GIL), native calls that keep
// the GIL (a holder that answers a drop request more than a switch
// interval late), a guest lock's hold without Options.LockHolds (shown
// from the end of the wait to the waiter's next acquire of the GIL), and
// the start of threads already running when attaching. docs/cpython.md has the details, the overhead
// and the troubleshooting of each error.
package cpython
