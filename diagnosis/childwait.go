package diagnosis

import (
	"slices"

	"github.com/giltrace/giltrace/tracer"
)

// ioWork is, per thread, the part of its blocking I/O that counts as work
// in the speedup arithmetic (the serial equivalent, the work's parallel
// part, the ceilings): its I/O time, except in a real CPython program
// (record -- python3, attach) traced with several processes, where the
// I/O a thread spent while another process of the program was doing CPU
// work (running, native calls) is not counted. Those processes are the
// program's own (the recorder traces the command and the CPython processes
// it starts), and a thread blocked on a pipe, a select or poll on their
// file descriptors, or os.waitpid while they compute is waiting for them:
// multiprocessing.Pool's _handle_workers and _handle_results in the parent,
// a worker reading its next task while the parent or a sibling computes.
// One thread doing the same work back to back would not wait for them; the
// CPU work they did is already counted in their own threads. The I/O kinds
// the recorder assigns (source/cpython/classify.go: "network" for select
// and sockets, "disk" for os.read on a pipe, "wait" for os.waitpid) do not
// tell a pipe to a child from a file or a remote peer, so the overlap is
// the rule. It errs low: a process's own network or disk I/O done while
// another process computes is not counted either. The VM's processes are
// independent workers with their own I/O, and keep all of it.
//
// In any run, the sleeps of a loop that polls other threads until they
// end (tracer.Poll) are a wait for them, not work, but for the rest of the
// sleep in which the last ended (QA: a main thread polling 2 hashing
// threads every 100 ms counted 1.62 s of sleeps as parallel work: "1.86x",
// where the threads ran 0.99x as fast as one).
func (a *analysis) ioWork() []int64 {
	n := len(a.r.Threads)
	io := make([]int64, n)
	for i := range a.r.Threads {
		io[i] = a.r.Threads[i].IONS
	}
	for id := range a.s.Polls() {
		if i := int(id); i < n {
			io[i] = max(io[i]-a.s.PollWait(id), 0)
		}
	}
	// The part of it that waited for a connection (I/O "listen"), as
	// counted here: what the bounding thread and What would help's limit
	// leave out (noVerdict, Report.ListenWorkNS), taken off once (review:
	// in a program of several processes the overlap below took it off
	// too, and the whole span was taken off again after).
	listen := slices.Index(a.t.Strings, ListenKind)
	a.listenWork = make([]int64, n)
	if listen > 0 {
		for _, sp := range a.s.States {
			if i := int(sp.Thread); sp.State == tracer.StateIO && sp.IOKind() == tracer.StringID(listen) && i < n {
				a.listenWork[i] += sp.End - sp.Start
			}
		}
	}

	a.takeTimeouts(io)
	if a.ownK > 0 {
		// Waits on its own pipes (I/O "own-io") until another thread
		// wrote: not work (the flow ends them at their writer).
		for _, sp := range a.s.States {
			if i := int(sp.Thread); i < n && a.ownWritten(i, &sp) {
				io[i] = max(io[i]-(sp.End-sp.Start), 0)
			}
		}
	}
	if !a.realProgram() || len(a.t.Procs) < 2 {
		return io
	}
	// cpu: per process, its threads' CPU intervals, merged.
	cpu := make([][][2]int64, len(a.t.Procs))
	for _, sp := range a.s.States {
		switch sp.State {
		case tracer.StateRunning, tracer.StateNative, tracer.StateNativeHolding:
		default:
			continue
		}
		if p := a.procOfThread(sp.Thread); p >= 0 && sp.End > sp.Start {
			cpu[p] = append(cpu[p], [2]int64{sp.Start, sp.End})
		}
	}
	for p := range cpu {
		cpu[p] = mergeIntervals(cpu[p])
	}
	others := make([][][2]int64, len(a.t.Procs)) // built on first use
	built := make([]bool, len(a.t.Procs))
	for i := range a.r.Threads {
		p := a.procOfThread(tracer.ThreadID(i))
		if p < 0 || io[i] == 0 || i >= len(a.t.Threads) {
			continue
		}
		if !built[p] {
			var all [][2]int64
			for q := range cpu {
				if q != p {
					all = append(all, cpu[q]...)
				}
			}
			others[p], built[p] = mergeIntervals(all), true
		}
		a.otherCPU = others // the flow counts each I/O span so (and notifiedAt reads it)
		pl := a.s.Polls()[tracer.ThreadID(i)]
		for _, sp := range a.s.ThreadStates(tracer.ThreadID(i)) {
			if pl != nil && pl.From <= sp.Start && sp.End <= pl.To {
				continue // a poll's sleeps: not work already (review: taken off twice)
			}
			if a.isTimeout(&sp) || a.isOwnWait(&sp) {
				continue // a wait for its own process's threads (or their writes: off already, above)
			}
			if sp.State == tracer.StateIO {
				o := overlap(others[p], sp.Start, sp.End)
				io[i] -= o
				if listen > 0 && sp.IOKind() == tracer.StringID(listen) {
					a.listenWork[i] -= o
				}
			}
		}
		io[i] = max(io[i], 0)
	}
	return io
}

// takeTimeouts takes off io the timeouts of every loop of timed waits
// (tracer.WaitChains, tracer.LoopedTimeouts: LoopWait), which wait for
// another thread, not work (an Event.wait(0.05) loop's 500 ms of timeouts
// made 2.54x of a run whose wall the flow cut by 2.1x). A timeout given
// up, or used as a sleep, is the thread's time, as time.sleep is (review:
// taking off every timeout made 0.1 s of work, an ev.wait(0.5) that ran
// out and 0.1 s more "0.39x", the same with time.sleep 0.99x).
func (a *analysis) takeTimeouts(io []int64) {
	for i := range io {
		if w := a.s.LoopWait(tracer.ThreadID(i)); w > 0 {
			io[i] = max(io[i]-w, 0)
		}
	}
}

// isTimeout reports whether sp is a timed wait that ran out (I/O
// "lock-timeout"), a wait for a thread of its own process: not a wait for
// the program's other processes.
func (a *analysis) isTimeout(sp *tracer.StateSpan) bool {
	return sp.State == tracer.StateIO && int(sp.IOKind()) == a.timeoutK
}

// isOwnWait reports whether sp waited on its process's own pipe or
// loopback connection (I/O "own-io", tracer.OwnIOKind): a wait for the
// thread that wrote to it.
func (a *analysis) isOwnWait(sp *tracer.StateSpan) bool {
	return a.ownK > 0 && sp.State == tracer.StateIO && int(sp.IOKind()) == a.ownK
}

// ownWriter is the thread that wrote what ended thread i's wait sp on
// its own pipe (I/O "own-io", tracer.Spans.Writer), and where in its time:
// the wait is one for that thread, no work. None for a wait still going
// at the thread's end, or that no thread's write ended (a signal's wake-up
// descriptor: paced by a timer, it is the thread's time, as a sleep is;
// QA: its reads taken off the work made "0.35x as fast as one thread",
// where one thread ran as fast).
func (a *analysis) ownWriter(i int, sp *tracer.StateSpan) (int, int64, bool) {
	if !a.isOwnWait(sp) || i >= len(a.s.Threads) || sp.End >= a.s.Threads[i].End {
		return 0, 0, false
	}
	j, at, ok := a.s.Writer(tracer.ThreadID(i), sp.End)
	if !ok || int(j) >= len(a.r.Threads) {
		return 0, 0, false
	}
	return int(j), at, true
}

// ownWritten reports whether thread i's span sp is a wait on its own pipe
// that a write of another thread ended (ownWriter).
func (a *analysis) ownWritten(i int, sp *tracer.StateSpan) bool {
	_, _, ok := a.ownWriter(i, sp)
	return ok
}

// ListenKind is the I/O kind of a wait for a connection (a real program's
// accept loop: source/cpython's ioListen). The speedup arithmetic counts
// it as the server thread's I/O, as any other (a thread that waited for
// clients overlapped them); What would help does not take it for the
// thread's own work when it looks for what limits the run.
const ListenKind = "listen"

// procOfThread is the process index of thread id, or -1.
func (a *analysis) procOfThread(id tracer.ThreadID) int {
	if int(id) < len(a.procOf) && a.procOf[id] < len(a.t.Procs) {
		return a.procOf[id]
	}
	return -1
}

// mergeIntervals sorts the intervals and merges those that overlap or touch.
func mergeIntervals(iv [][2]int64) [][2]int64 {
	slices.SortFunc(iv, func(x, y [2]int64) int {
		switch {
		case x[0] < y[0]:
			return -1
		case x[0] > y[0]:
			return 1
		}
		return 0
	})
	out := iv[:0]
	for _, v := range iv {
		if k := len(out); k > 0 && v[0] <= out[k-1][1] {
			out[k-1][1] = max(out[k-1][1], v[1])
			continue
		}
		out = append(out, v)
	}
	return out
}

// overlap is how much of [start, end) the merged, sorted intervals cover.
func overlap(iv [][2]int64, start, end int64) int64 {
	i, _ := slices.BinarySearchFunc(iv, start, func(v [2]int64, t int64) int {
		switch {
		case v[1] <= t:
			return -1
		case v[0] > t:
			return 1
		}
		return 0
	})
	var n int64
	for ; i < len(iv) && iv[i][0] < end; i++ {
		n += max(0, min(end, iv[i][1])-max(start, iv[i][0]))
	}
	return n
}
