// Package vm is giltrace's GIL-locked virtual machine: it compiles
// workloads (package vm/workload) to bytecode and runs them (Run, or Source
// as a tracer.Source) with every guest thread a goroutine executing a real
// interpreter loop and contending for a real GIL, recording every state
// change through the tracer. In real time each guest thread runs on an
// operating-system thread, as CPython's threads are pthreads, waits and
// sleeps block in the kernel on a futex of the thread's own
// (waker_linux.go; elsewhere than Linux, a channel and a Go timer, the
// thread locked to its operating-system thread), and native calls burn the
// thread's own CPU time (docs/vm.md).
//
// # Interpreter
//
// Each workload function compiles to CPython-like bytecode. `compute` is
// Beazley's countdown `while n > 0: n -= 1`, compiled as CPython compiles it
// (LOAD_FAST, LOAD_CONST, COMPARE_OP, POP_JUMP_IF_FALSE, LOAD_FAST,
// LOAD_CONST, BINARY_OP, STORE_FAST, JUMP_BACKWARD); a quickening pass then
// fuses the test and the decrement into two superinstructions, as CPython
// 3.11's specialising interpreter does. Repeats are the same loop around
// their body. The eval breaker, one atomic word per process, is checked
// where CPython checks it: function entry, calls and backward jumps.
//
// # GIL modes
//
// The GIL sits behind a small interface (gil): cpython is CPython 3.2+'s
// timed wait, drop request and forced switching (Python/ceval_gil.c);
// legacy is Python 2's release and re-acquire every check interval; none is
// free-threaded. Guest locks use the GIL's lock without the timed wait;
// a joined thread holds one, "join THREAD", for its life (join.go). A
// started group waits for its start on a gate (start.go).
// Every event about a lock is stamped under the lock's mutex, so that the
// recorded order is the order in which things happened.
//
// # Virtual time
//
// With Options.ClockMode (or the workload's clock:) virtual, the same
// threads, interpreter, GIL and locks run as a discrete-event simulation:
// the virtual clock lets one thread run at a time, in virtual-time order,
// charges compute by instructions at a fixed rate (VirtualLoopsPerMS),
// gives I/O, sleeps and native calls exactly their durations, wakes a
// waiter one wake-up latency (DefaultWakeLatency) after the release that
// signals it, and shares Options.Cores simulated cores among the threads
// that need a CPU in round-robin slices (TimeSlice). A run is then a
// function of the workload, the options and the seed: byte-identical
// traces on any machine at any load. See docs/vm.md, "Virtual time".
//
// # Seams
//
// Time and blocking go through a Clock (Now, Sleep, Burn, Park); nothing
// else reads the time or parks a goroutine. With the eval breaker (which a
// scheduler can set to regain control of a running thread) and each
// thread's instruction count, that is what a deterministic virtual-time
// scheduler needs, without touching the interpreter or the tracer.
package vm
