package diagnosis

import (
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/vm/workload"
)

// startCause is what started a thread, as far as the run's workload file
// says (workloadStarts): the trace records when a thread started, not why.
type startCause struct {
	known bool
	// timer: a group of the file's threads: with start_after T the
	// thread starts T after the run's start, whatever the other threads
	// do (a timer); atNS is T.
	timer bool
	atNS  int64
	// Else a `start:` of another thread started it (starter, a thread
	// index), and delayNS (the group's start_after) after that start.
	starter int
	delayNS int64
	// joins: the joins of the thread's function whose place in the trace
	// its lines give (joinPoint).
	joins []joinPoint
}

// joinPoint is a `join:` of a thread's function (or of a function it
// calls), with the threads it joins and the least work the thread does
// after it (postWork): the thread cannot end before the joined threads
// have ended and it has done that work. The trace shows a join only when
// it waited: one that found its threads ended (the GIL had made the
// joiner late) records nothing, and without the GIL the joiner could get
// there first (main: compute, start workers, compute, join them, compute).
type joinPoint struct {
	threads []int
	afterNS int64
}

// workloadStarts reads, for a VM run, the workload file it ran
// (Meta.WorkloadSource) for what started each thread: a thread of a group
// with start_after T that no `start:` starts begins T after the run's
// start, a timer, and no GIL wait of the threads before it delays it; a
// thread of a group that a `start:` starts begins when its starter gets
// there, then its start_after. nil when the trace is not a VM run's or
// the file cannot be read; a thread that cannot be placed in one group,
// or whose starter is not one thread of its process, is not known.
func (a *analysis) workloadStarts() []startCause {
	m := &a.t.Meta
	if m.WorkloadSource == "" || m.Extra["source"] == "cpython" {
		return nil
	}
	w, err := workload.Parse(m.WorkloadFile, []byte(m.WorkloadSource))
	if err != nil {
		return nil
	}
	// The groups each function starts, through the functions it calls.
	starts := map[string]map[string]bool{}
	var visit func(fn string, seen map[string]bool) map[string]bool
	visit = func(fn string, seen map[string]bool) map[string]bool {
		if s, ok := starts[fn]; ok {
			return s
		}
		out := map[string]bool{}
		f := w.Functions[fn]
		if f == nil || seen[fn] {
			return out
		}
		seen[fn] = true
		var walk func(ops []workload.Op)
		walk = func(ops []workload.Op) {
			for _, op := range ops {
				switch op.Kind {
				case workload.OpStart:
					out[op.Group] = true
				case workload.OpCall:
					for g := range visit(op.Func, seen) {
						out[g] = true
					}
				}
				walk(op.Body)
			}
		}
		walk(f.Ops)
		delete(seen, fn)
		starts[fn] = out
		return out
	}
	started := map[string]bool{} // group names some `start:` starts
	for _, g := range w.Threads {
		for name := range visit(g.Run, map[string]bool{}) {
			started[name] = true
		}
	}
	// Each thread's group: its name is the group's, or the group's and
	// "-N"; the group runs in its process.
	group := make([]int, len(a.t.Threads))
	for i, th := range a.t.Threads {
		group[i] = -1
		pid := 0
		if int(th.Proc) < len(a.t.Procs) {
			pid = a.t.Procs[th.Proc].PID
		}
		for gi, g := range w.Threads {
			if !g.InProcess(pid) && a.t.Meta.Extra["one_process_of"] == "" {
				continue
			}
			if !groupName(th.Name, g.Name) {
				continue
			}
			if group[i] >= 0 {
				group[i] = -2 // two groups would do: not known
				break
			}
			group[i] = gi
		}
	}
	var latency int64
	if d, err := time.ParseDuration(m.Extra["wake_latency"]); err == nil {
		latency = int64(d) // a started thread begins this long after its start (virtual time)
	}
	out := make([]startCause, len(a.t.Threads))
	for i := range out {
		gi := group[i]
		if gi < 0 {
			continue
		}
		g := w.Threads[gi]
		out[i].joins = joinPoints(w, g.Run, m.LoopsPerMS, func(name string) []int {
			var ths []int
			for j := range a.t.Threads {
				if j != i && group[j] >= 0 && w.Threads[group[j]].Name == name && a.t.Threads[j].Proc == a.t.Threads[i].Proc {
					ths = append(ths, j)
				}
			}
			return ths
		})
		if !started[g.Name] {
			out[i].known, out[i].timer, out[i].atNS = true, true, int64(g.StartAfter)
			continue
		}
		// Its starter: the one thread of its process whose group's
		// function starts it.
		starter := -1
		for j := range a.t.Threads {
			if j == i || group[j] < 0 || a.t.Threads[j].Proc != a.t.Threads[i].Proc || !visit(w.Threads[group[j]].Run, map[string]bool{})[g.Name] {
				continue
			}
			if starter >= 0 {
				starter = -2
				break
			}
			starter = j
		}
		if starter >= 0 {
			out[i].known, out[i].starter, out[i].delayNS = true, starter, int64(g.StartAfter)+latency
		}
	}
	return out
}

// joinPoints are the joins of function fn and the functions it calls,
// with the threads they join (threads, by group name) and the work after
// each to the end of fn, repeat times (the thread calls its function
// `repeat` times: the joins of the last call).
func joinPoints(w *workload.Workload, fn string, loopsPerMS float64, threads func(group string) []int) []joinPoint {
	var out []joinPoint
	// walk visits ops, with after the work that follows them outside.
	var walk func(ops []workload.Op, after int64, depth int)
	walk = func(ops []workload.Op, after int64, depth int) {
		if depth > 32 {
			return
		}
		for k, op := range ops {
			rest := after + postWork(w, ops[k+1:], loopsPerMS, 0)
			switch op.Kind {
			case workload.OpJoin:
				if ths := threads(op.Group); len(ths) > 0 {
					out = append(out, joinPoint{threads: ths, afterNS: rest})
				}
			case workload.OpCall:
				if f := w.Functions[op.Func]; f != nil {
					walk(f.Ops, rest, depth+1)
				}
			case workload.OpLock, workload.OpRepeat:
				walk(op.Body, rest, depth+1)
			}
		}
	}
	if f := w.Functions[fn]; f != nil {
		walk(f.Ops, 0, 0)
	}
	return out
}

// postWork is the least own work of ops: compute (its loops at the
// calibration's rate), I/O less its jitter, native calls, each repeat's
// body its times; calls into their functions. Waits, joins and starts
// count nothing.
func postWork(w *workload.Workload, ops []workload.Op, loopsPerMS float64, depth int) int64 {
	if depth > 32 {
		return 0
	}
	var n int64
	for _, op := range ops {
		switch op.Kind {
		case workload.OpCompute:
			if op.Loops > 0 {
				if loopsPerMS > 0 {
					n += int64(float64(op.Loops) / loopsPerMS * 1e6)
				}
			} else {
				n += int64(op.Duration)
			}
		case workload.OpIO:
			n += max(int64(op.Duration-op.Jitter), 0)
		case workload.OpNative:
			n += int64(op.Duration)
		case workload.OpLock:
			n += postWork(w, op.Body, loopsPerMS, depth+1)
		case workload.OpRepeat:
			n += int64(op.Times) * postWork(w, op.Body, loopsPerMS, depth+1)
		case workload.OpCall:
			if f := w.Functions[op.Func]; f != nil {
				n += postWork(w, f.Ops, loopsPerMS, depth+1)
			}
		}
	}
	return n
}

// groupName reports whether a thread named name is one of a group named
// g's: g itself, or g-N.
func groupName(name, g string) bool {
	if name == g {
		return true
	}
	rest, ok := strings.CutPrefix(name, g+"-")
	if !ok || rest == "" {
		return false
	}
	_, err := strconv.ParseUint(rest, 10, 32)
	return err == nil
}
