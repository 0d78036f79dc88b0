package diagnosis

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	yaml "go.yaml.in/yaml/v3"
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
	// index), and delayNS (the group's start_after, and the wake-up
	// latency) after that start.
	starter int
	delayNS int64
	// joins: the joins of the thread's function (joinPoint).
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
// there, then its start_after; and for the joins of each thread. nil when
// the trace is not a VM run's or the file cannot be read; a thread that
// cannot be placed in one group, or whose starter is not one thread of its
// process, is not known.
//
// The file is read here (readWorkload), not by vm/workload: the diagnosis
// depends on the tracer alone (docs/architecture.md), and the VM only
// records files its loader accepted, of which this needs a few keys.
func (a *analysis) workloadStarts() []startCause {
	m := &a.t.Meta
	if m.WorkloadSource == "" || m.Extra["source"] == "cpython" {
		return nil
	}
	w, err := parsedWorkload(m.WorkloadSource)
	if err != nil {
		return nil
	}
	// The groups each function starts, through the functions it calls.
	starts := map[string]map[string]bool{}
	var visit func(fn string, depth int) map[string]bool
	visit = func(fn string, depth int) map[string]bool {
		if s, ok := starts[fn]; ok {
			return s
		}
		out := map[string]bool{}
		ops, ok := w.funcs[fn]
		if !ok || depth > maxDepth {
			return out
		}
		var walk func(ops []wlOp)
		walk = func(ops []wlOp) {
			for _, op := range ops {
				switch op.kind {
				case "start":
					out[op.name] = true
				case "call":
					for g := range visit(op.name, depth+1) {
						out[g] = true
					}
				}
				walk(op.body)
			}
		}
		walk(ops)
		starts[fn] = out
		return out
	}
	started := map[string]bool{} // group names some `start:` starts
	for _, g := range w.groups {
		for name := range visit(g.run, 0) {
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
		for gi, g := range w.groups {
			if g.process != 0 && g.process != pid && m.Extra["one_process_of"] == "" {
				continue
			}
			if !groupName(th.Name, g.name) {
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
		g := w.groups[gi]
		out[i].joins = joinPoints(w, g.run, m.LoopsPerMS, func(name string) []int {
			var ths []int
			for j := range a.t.Threads {
				if j != i && group[j] >= 0 && w.groups[group[j]].name == name && a.t.Threads[j].Proc == a.t.Threads[i].Proc {
					ths = append(ths, j)
				}
			}
			return ths
		})
		if !started[g.name] {
			out[i].known, out[i].timer, out[i].atNS = true, true, g.startAfter
			continue
		}
		// Its starter: the one thread of its process whose group's
		// function starts it.
		starter := -1
		for j := range a.t.Threads {
			if j == i || group[j] < 0 || a.t.Threads[j].Proc != a.t.Threads[i].Proc || !visit(w.groups[group[j]].run, 0)[g.name] {
				continue
			}
			if starter >= 0 {
				starter = -2
				break
			}
			starter = j
		}
		if starter >= 0 {
			out[i].known, out[i].starter, out[i].delayNS = true, starter, g.startAfter+latency
		}
	}
	return out
}

// maxDepth bounds the walks through calls and bodies (the loader refuses
// recursion and deeper nesting; a corrupt file must not loop).
const maxDepth = 64

// joinPoints are the joins of function fn and the functions it calls,
// with the threads they join (threads, by group name) and the work after
// each to the end of fn (the thread calls its function `repeat` times:
// the joins of the last call).
func joinPoints(w *wl, fn string, loopsPerMS float64, threads func(group string) []int) []joinPoint {
	var out []joinPoint
	// walk visits ops, with after the work that follows them outside.
	var walk func(ops []wlOp, after int64, depth int)
	walk = func(ops []wlOp, after int64, depth int) {
		if depth > maxDepth {
			return
		}
		// The work after each op, summed from the end once (a sum per op
		// was quadratic in a function's ops: a model of a 2 s attach to a
		// process pool, thousands of ops a function, spent seconds here).
		suffix := make([]int64, len(ops)+1)
		for k := len(ops) - 1; k >= 0; k-- {
			suffix[k] = suffix[k+1] + postWork(w, ops[k:k+1], loopsPerMS, depth)
		}
		for k, op := range ops {
			rest := after + suffix[k+1]
			switch op.kind {
			case "join":
				if ths := threads(op.name); len(ths) > 0 {
					out = append(out, joinPoint{threads: ths, afterNS: rest})
				}
			case "call":
				walk(w.funcs[op.name], rest, depth+1)
			case "lock", "repeat":
				walk(op.body, rest, depth+1)
			}
		}
	}
	walk(w.funcs[fn], 0, 0)
	return out
}

// postWork is the least own work of ops: compute (its loops at the
// calibration's rate), I/O and sleeps less their jitter, native calls,
// each repeat's body its times; calls into their functions. Waits, joins
// and starts count nothing.
func postWork(w *wl, ops []wlOp, loopsPerMS float64, depth int) int64 {
	if depth > maxDepth {
		return 0
	}
	var n int64
	for _, op := range ops {
		switch op.kind {
		case "compute":
			if op.loops > 0 {
				if loopsPerMS > 0 {
					n += int64(float64(op.loops) / loopsPerMS * 1e6)
				}
			} else {
				n += op.ns
			}
		case "io", "sleep":
			n += max(op.ns-op.jitter, 0)
		case "native":
			n += op.ns
		case "lock":
			n += postWork(w, op.body, loopsPerMS, depth+1)
		case "repeat":
			n += int64(op.times) * postWork(w, op.body, loopsPerMS, depth+1)
		case "call":
			n += w.funcWork(op.name, loopsPerMS, depth+1)
		}
	}
	return n
}

// funcWork is postWork of function name's ops, computed once per rate.
func (w *wl) funcWork(name string, loopsPerMS float64, depth int) int64 {
	if w.work == nil || w.workRate != loopsPerMS {
		w.work, w.workRate = map[string]int64{}, loopsPerMS
	}
	if n, ok := w.work[name]; ok {
		return n
	}
	n := postWork(w, w.funcs[name], loopsPerMS, depth)
	if depth <= maxDepth { // a walk cut at the bound is not the function's work
		w.work[name] = n
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

// wl is what the diagnosis reads of a workload file (docs/workloads.md):
// its thread groups and its functions' operations.
type wl struct {
	groups []wlGroup
	funcs  map[string][]wlOp
	// work: postWork of each function called, at workRate loops per ms.
	work     map[string]int64
	workRate float64
}

// wlGroup is an entry of threads:.
type wlGroup struct {
	name, run  string
	process    int   // 0: every process
	startAfter int64 // ns
}

// wlOp is an operation: its kind (the key: compute, io, sleep, native,
// call, lock, repeat, join, start, wait, notify), its duration and jitter
// (ns) or loops, the function, group or lock it names, and a lock's or a
// repeat's body, times.
type wlOp struct {
	kind       string
	ns, jitter int64
	loops      int64
	name       string
	times      int
	body       []wlOp
}

// parsedWorkload is readWorkload of src, parsed once for the last few
// sources (workloadCacheSize) and shared: the what-if (compare.WhatIf)
// replays about eighteen variants of one model, and the analysis of each
// variant's trace read its source, the same model, again. A model of the
// 50 native-wait threads of QA's nw_sleep.py (105 KB, its blocking calls
// of two kinds in no repeating order) took about 18 ms a parse, 320 ms of
// a 480 ms prediction. The parse's groups and functions are not modified
// after it; each caller gets its own funcWork memo.
func parsedWorkload(src string) (*wl, error) {
	workloadCache.Lock()
	for i, e := range workloadCache.entries {
		if e.src == src {
			// Most recent first.
			copy(workloadCache.entries[1:i+1], workloadCache.entries[:i])
			workloadCache.entries[0] = e
			workloadCache.Unlock()
			return e.w.share(), e.err
		}
	}
	workloadCache.Unlock()
	w, err := readWorkload(src)
	workloadCache.Lock()
	defer workloadCache.Unlock()
	es := append([]workloadEntry{{src, w, err}}, workloadCache.entries...)
	workloadCache.entries = es[:min(len(es), workloadCacheSize)]
	return w.share(), err
}

// workloadCacheSize is how many sources parsedWorkload keeps parsed: a
// what-if's variants share their model's.
const workloadCacheSize = 2

// workloadParses counts readWorkload's parses (TestWorkloadParsedOnce).
var workloadParses atomic.Int64

var workloadCache struct {
	sync.Mutex
	entries []workloadEntry // most recent first
}

type workloadEntry struct {
	src string
	w   *wl
	err error
}

// share is w for another reader: its groups and functions, read only,
// and a memo of its own.
func (w *wl) share() *wl {
	if w == nil {
		return nil
	}
	return &wl{groups: w.groups, funcs: w.funcs}
}

// readWorkload reads the few keys the diagnosis needs of workload file
// src; an error for anything it does not understand (the loader's format,
// which the VM checked before it ran the file).
func readWorkload(src string) (*wl, error) {
	workloadParses.Add(1)
	var root map[string]any
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		return nil, err
	}
	w := &wl{funcs: map[string][]wlOp{}}
	groups, ok := root["threads"].([]any)
	if !ok {
		return nil, fmt.Errorf("no threads")
	}
	for _, g := range groups {
		m, ok := g.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("a thread group is not a mapping")
		}
		gr := wlGroup{run: text(m["run"])}
		gr.name = text(m["name"])
		if gr.name == "" {
			gr.name = gr.run
		}
		if v, ok := m["process"]; ok {
			p, ok := v.(int)
			if !ok {
				return nil, fmt.Errorf("process %v", v)
			}
			gr.process = p
		}
		if v, ok := m["start_after"]; ok {
			d, err := duration(v)
			if err != nil {
				return nil, err
			}
			gr.startAfter = d
		}
		if gr.run == "" {
			return nil, fmt.Errorf("a thread group without run")
		}
		w.groups = append(w.groups, gr)
	}
	fs, ok := root["functions"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no functions")
	}
	for name, body := range fs {
		ops, err := readOps(body, 0)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", name, err)
		}
		w.funcs[name] = ops
	}
	return w, nil
}

// readOps reads a list of operations.
func readOps(v any, depth int) ([]wlOp, error) {
	list, ok := v.([]any)
	if !ok || depth > maxDepth {
		return nil, fmt.Errorf("expected a list of operations")
	}
	out := make([]wlOp, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("an operation is a mapping of one key")
		}
		for kind, arg := range m {
			op := wlOp{kind: kind}
			var err error
			switch kind {
			case "call", "join", "start", "notify":
				op.name = text(arg)
			case "compute":
				if a, ok := arg.(map[string]any); ok {
					if l, ok := a["loops"].(int); ok {
						op.loops = int64(l)
					} else {
						op.ns, err = duration(a["duration"])
					}
				} else {
					op.ns, err = duration(arg)
				}
			case "io", "sleep", "native", "wait":
				if a, ok := arg.(map[string]any); ok {
					if d, ok := a["duration"]; ok {
						op.ns, err = duration(d)
					}
					if err == nil && a["jitter"] != nil {
						op.jitter, err = duration(a["jitter"])
					}
				} else {
					op.ns, err = duration(arg)
				}
			case "lock":
				a, _ := arg.(map[string]any)
				op.name = text(a["name"])
				op.body, err = readOps(a["body"], depth+1)
			case "repeat":
				a, _ := arg.(map[string]any)
				times, ok := a["times"].(int)
				if !ok {
					return nil, fmt.Errorf("repeat without times")
				}
				op.times = times
				op.body, err = readOps(a["body"], depth+1)
			default:
				return nil, fmt.Errorf("unknown operation %s", kind)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kind, err)
			}
			out = append(out, op)
		}
	}
	return out, nil
}

// text is a scalar's text: a name written as a number is still a name.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// duration reads a duration written as the loader takes it: 200us, 5ms.
func duration(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("expected a duration, got %v", v)
	}
	d, err := time.ParseDuration(s)
	return int64(d), err
}
