package workload

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// callSite is one call operation, for the checks of the call graph.
type callSite struct {
	target    string
	path      string // field path of the call operation
	line, col int
}

// callSites lists the calls in ops and their bodies, in file order.
func callSites(ops []Op, path string, out []callSite) []callSite {
	for i := range ops {
		op := &ops[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		switch op.Kind {
		case OpCall:
			out = append(out, callSite{target: op.Func, path: p + ".call", line: op.Line, col: op.Col})
		case OpLock:
			out = callSites(op.Body, p+".lock.body", out)
		case OpRepeat:
			out = callSites(op.Body, p+".repeat.body", out)
		}
	}
	return out
}

// checkCalls checks the call graph:
//  1. every call names a function;
//  2. no function calls itself, directly or through others (the VM has no
//     recursion: guest stacks are bounded and a thread's work is finite);
//  3. no thread's calls nest deeper than MaxDepth frames.
func (l *loader) checkCalls(w *Workload) {
	funcs := functionsByLine(w.Functions)
	sites := make(map[string][]callSite, len(funcs))
	names := sortedFuncNames(w.Functions)
	for _, f := range funcs {
		for _, c := range callSites(f.Ops, "functions."+f.Name, nil) {
			if w.Functions[c.target] == nil {
				l.errorAt(c.line, c.col, c.path, "unknown function %q%s", c.target, didYouMean(c.target, names))
				continue
			}
			sites[f.Name] = append(sites[f.Name], c)
		}
	}
	if l.checkCycles(funcs, sites) {
		l.checkCallDepth(w, sites)
	}
	// The lock checks stop at a call cycle (locksOf), so they run on a
	// file with recursion too: a lock taken again where it is held is
	// reported beside the recursion (QA: it was not until that was fixed).
	l.checkLocks(w)
	l.checkNotifies(funcs)
}

// checkNotifies reports each wait until: notify on a lock that no notify
// operation names: it would wait forever.
func (l *loader) checkNotifies(funcs []*Function) {
	notified := map[string]bool{}
	type wait struct {
		op   Op
		path string
	}
	var waits []wait
	var walk func(ops []Op, path string)
	walk = func(ops []Op, path string) {
		for i, op := range ops {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch op.Kind {
			case OpNotify:
				notified[op.Lock] = true
			case OpWait:
				if op.UntilNotify {
					waits = append(waits, wait{op, p + ".wait"})
				}
			case OpIO:
				if op.UntilNotify {
					waits = append(waits, wait{op, p + ".io.until"})
				}
			case OpRepeat:
				walk(op.Body, p+".repeat.body")
			case OpLock:
				walk(op.Body, p+".lock.body")
			}
		}
	}
	for _, f := range funcs {
		walk(f.Ops, "functions."+f.Name)
	}
	for _, w := range waits {
		if !notified[w.op.Lock] {
			l.errorAt(w.op.Line, w.op.Col, w.path, "waits until a notify on lock %q, but no operation notifies it (notify: %s); it would wait forever", w.op.Lock, w.op.Lock)
		}
	}
}

// checkCycles reports every call that closes a cycle, naming the cycle, by a
// depth-first search in file order. It returns whether the graph is acyclic.
func (l *loader) checkCycles(funcs []*Function, sites map[string][]callSite) bool {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make(map[string]int, len(funcs))
	var stack []string
	acyclic := true
	var visit func(name string)
	visit = func(name string) {
		state[name] = onStack
		stack = append(stack, name)
		for _, c := range sites[name] {
			switch state[c.target] {
			case unvisited:
				visit(c.target)
			case onStack:
				i := len(stack) - 1
				for stack[i] != c.target {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), c.target)
				l.errorAt(c.line, c.col, c.path, "calls recurse: %s; recursion is not supported (use repeat to loop)", strings.Join(cycle, " -> "))
				acyclic = false
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, f := range funcs {
		if state[f.Name] == unvisited {
			visit(f.Name)
		}
	}
	return acyclic
}

// checkCallDepth reports thread groups whose run function nests calls deeper
// than MaxDepth frames. The graph must be acyclic.
func (l *loader) checkCallDepth(w *Workload, sites map[string][]callSite) {
	depth := map[string]int{}
	next := map[string]string{} // the callee on the deepest chain
	var measure func(name string) int
	measure = func(name string) int {
		if d, ok := depth[name]; ok {
			return d
		}
		d := 1
		for _, c := range sites[name] {
			if cd := measure(c.target) + 1; cd > d {
				d, next[name] = cd, c.target
			}
		}
		depth[name] = d
		return d
	}
	for i, g := range w.Threads {
		if w.Functions[g.Run] == nil {
			continue
		}
		d := measure(g.Run)
		if d <= MaxDepth {
			continue
		}
		chain := []string{g.Run}
		for f := g.Run; next[f] != ""; f = next[f] {
			chain = append(chain, next[f])
		}
		if len(chain) > 6 {
			chain = append(append(chain[:3:3], "..."), chain[len(chain)-2:]...)
		}
		l.errorf(l.runs[i], fmt.Sprintf("threads[%d].run", i), "calls nest %d frames deep (%s), beyond the limit of %d", d, strings.Join(chain, " -> "), MaxDepth)
	}
}

// workCost is the planned work of a piece of a workload.
type workCost struct {
	time  time.Duration // compute given as time, I/O (with maximal jitter), native
	loops int64         // compute given as loops
	ops   int64         // operations run (a call, a lock and a repeat count one each, with their bodies)
}

// checkCost reports thread groups whose planned work exceeds MaxThreadTime,
// MaxThreadLoops or MaxThreadOps, with saturating arithmetic so that nested
// repeats cannot overflow. The call graph must be valid and acyclic.
func (l *loader) checkCost(w *Workload) {
	memo := map[string]workCost{}
	var funcCost func(name string) workCost
	var opsCost func(ops []Op) workCost
	funcCost = func(name string) workCost {
		if c, ok := memo[name]; ok {
			return c
		}
		c := opsCost(w.Functions[name].Ops)
		memo[name] = c
		return c
	}
	opsCost = func(ops []Op) workCost {
		var total workCost
		for i := range ops {
			op := &ops[i]
			var c workCost
			switch op.Kind {
			case OpCall:
				c = funcCost(op.Func)
			case OpCompute:
				c = workCost{time: op.Duration, loops: op.Loops}
			case OpIO:
				c.time = satAdd(op.Duration, op.Jitter)
			case OpNative:
				c.time = op.Duration
			case OpLock:
				c = opsCost(op.Body)
			case OpRepeat:
				c = opsCost(op.Body).times(int64(op.Times))
			}
			c.ops = satAdd(c.ops, 1)
			total = workCost{time: satAdd(total.time, c.time), loops: satAdd(total.loops, c.loops), ops: satAdd(total.ops, c.ops)}
		}
		return total
	}
	var all int64 // every thread's operations, for MaxTotalOps
	for i, g := range w.Threads {
		per := funcCost(g.Run)
		c := per.times(int64(g.Repeat))
		copies := int64(g.Count)
		if g.Process == 0 {
			copies *= int64(max(w.Processes, 1))
		}
		all = satAdd(all, satMul(c.ops, copies))
		c.time = satAdd(c.time, g.StartAfter)
		field := fmt.Sprintf("threads[%d]", i)
		if c.time > l.maxThreadTime {
			l.errorf(l.runs[i], field, "a thread would run for at least %s (start_after %s + repeat %d x %s per call of %s), beyond the limit of %s",
				roughDuration(c.time), shortDuration(g.StartAfter), g.Repeat, roughDuration(per.time), g.Run, shortDuration(l.maxThreadTime))
		}
		if c.loops > MaxThreadLoops {
			l.errorf(l.runs[i], field, "a thread would run %s compute loops (repeat %d x %d per call of %s), beyond the limit of %d",
				roughCount(c.loops), g.Repeat, per.loops, g.Run, int64(MaxThreadLoops))
		}
		if c.ops > MaxThreadOps {
			l.errorf(l.runs[i], field, "a thread would run %s operations (repeat %d x %s per call of %s), beyond the limit of %d: each takes about a microsecond to run, however short its duration",
				roughCount(c.ops), g.Repeat, roughCount(per.ops), g.Run, int64(MaxThreadOps))
		}
	}
	if all > MaxTotalOps && len(l.runs) > 0 {
		l.errorf(l.runs[0], "threads", "the threads would run %s operations in all (each group's per thread, times its count and processes), beyond the limit of %d: each takes about a microsecond to run and records an event or more, however short its duration",
			roughCount(all), int64(MaxTotalOps))
	}
}

// times multiplies a cost by n >= 0, saturating.
func (c workCost) times(n int64) workCost {
	return workCost{time: time.Duration(satMul(int64(c.time), n)), loops: satMul(c.loops, n), ops: satMul(c.ops, n)}
}

// satAdd adds non-negative values, saturating at the largest int64.
func satAdd[T ~int64](a, b T) T {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satMul multiplies non-negative values, saturating at the largest int64.
func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// roughDuration formats a possibly saturated duration for a message.
func roughDuration(d time.Duration) string {
	if d == math.MaxInt64 {
		return "292 years"
	}
	return shortDuration(d.Round(time.Millisecond))
}

// roughCount formats a possibly saturated count for a message.
func roughCount(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9.2e18"
	}
	return fmt.Sprintf("%d", n)
}
