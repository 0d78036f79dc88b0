package workload

import (
	"fmt"
	"sort"
	"strings"
)

// startSites lists the start operations in ops and their bodies, in file
// order; inRepeat marks those inside a repeat body.
func startSites(ops []Op, path string, inRepeat bool, out []startSite) []startSite {
	for i := range ops {
		op := &ops[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		switch op.Kind {
		case OpStart:
			out = append(out, startSite{group: op.Group, path: p + ".start", line: op.Line, col: op.Col, inRepeat: inRepeat})
		case OpLock:
			out = startSites(op.Body, p+".lock.body", inRepeat, out)
		case OpRepeat:
			out = startSites(op.Body, p+".repeat.body", true, out)
		}
	}
	return out
}

// startSite is one start operation.
type startSite struct {
	group     string
	fn        string // the function holding it
	path      string
	line, col int
	inRepeat  bool
}

// checkStarts checks the start operations (Thread.start). A group that a
// start names waits, not running, until a thread executes the start, so
// each started group must be started exactly once, by one thread:
//   - the group exists;
//   - one start operation names it, outside repeat bodies;
//   - the threads reaching it (through calls) are one group of one thread
//     run once (count 1, repeat 1): a second execution would start the
//     threads twice (CPython: "threads can only be started once");
//   - a group does not start itself, and groups do not start each other in
//     a cycle (none of them would ever start).
func (l *loader) checkStarts(w *Workload) {
	groups := map[string][]int{}
	var names []string
	for i, g := range w.Threads {
		if groups[g.Name] == nil {
			names = append(names, g.Name)
		}
		groups[g.Name] = append(groups[g.Name], i)
	}
	first := map[string]startSite{} // started group -> its start
	own := map[string][]startSite{} // function -> its own starts
	for _, f := range functionsByLine(w.Functions) {
		for _, s := range startSites(f.Ops, "functions."+f.Name, false, nil) {
			s.fn = f.Name
			switch {
			case groups[s.group] == nil:
				if len(w.Threads) > 0 {
					l.errorAt(s.line, s.col, s.path, unknownGroup+" %q%s; expected the name of a group of threads: %s", s.group, didYouMean(s.group, names), strings.Join(names, ", "))
				}
				continue
			case s.inRepeat:
				l.errorAt(s.line, s.col, s.path, "thread group %q is started inside a repeat body; a thread can be started only once: start it outside the repeat", s.group)
				continue
			}
			if p, ok := first[s.group]; ok {
				l.errorAt(s.line, s.col, s.path, "thread group %q is started twice (first at %d:%d, in %s); a thread can be started only once", s.group, p.line, p.col, p.fn)
				continue
			}
			first[s.group] = s
			own[f.Name] = append(own[f.Name], s)
		}
	}
	if len(first) == 0 {
		return
	}
	// reach: function -> the starts it makes, directly or through calls.
	reach := map[string][]startSite{}
	onPath := map[string]bool{}
	var startsOf func(fn string) []startSite
	startsOf = func(fn string) []startSite {
		if s, ok := reach[fn]; ok {
			return s
		}
		f := w.Functions[fn]
		if f == nil || onPath[fn] {
			return nil
		}
		onPath[fn] = true
		out := append([]startSite(nil), own[fn]...)
		var walk func(ops []Op)
		walk = func(ops []Op) {
			for i := range ops {
				switch op := &ops[i]; op.Kind {
				case OpCall:
					out = append(out, startsOf(op.Func)...)
				case OpLock, OpRepeat:
					walk(op.Body)
				}
			}
		}
		walk(f.Ops)
		onPath[fn] = false
		reach[fn] = out
		return out
	}
	starter := map[string]string{} // started group -> the group starting it
	next := map[string][]startSite{}
	bad := map[string]bool{}
	for _, gi := range groupOrder(w) {
		g := w.Threads[gi]
		for _, s := range startsOf(g.Run) {
			if bad[s.group] {
				continue
			}
			if prev, ok := starter[s.group]; ok && prev == g.Name && g.Count == 1 && g.Repeat == 1 {
				continue // its one thread starts it again: the second start does nothing
			}
			if prev, ok := starter[s.group]; ok || g.Count > 1 || g.Repeat > 1 {
				who := fmt.Sprintf("thread group %q (count %d, repeat %d) runs", g.Name, g.Count, g.Repeat)
				if ok {
					who = fmt.Sprintf("thread groups %q and %q run", prev, g.Name)
				}
				l.errorAt(s.line, s.col, s.path, "thread group %q would be started more than once: %s %s, which starts it; a thread can be started only once: start it from one thread", s.group, who, g.Run)
				bad[s.group] = true
				continue
			}
			starter[s.group] = g.Name
			next[g.Name] = append(next[g.Name], s)
		}
	}
	var started []string
	for n := range first {
		started = append(started, n)
	}
	sort.Strings(started)
	for _, n := range started {
		if _, ok := starter[n]; !ok && !bad[n] {
			s := first[n]
			l.errorAt(s.line, s.col, s.path, "thread group %q is started only in function %s, which no thread runs; it would never start", n, s.fn)
		}
	}
	l.checkJoinBeforeStart(w, starter, first)
	// Cycles: each group has at most one starter, so follow it.
	for _, n := range started {
		seen := []string{n}
		for cur := starter[n]; cur != ""; cur = starter[cur] {
			if cur == n {
				s := first[n]
				if len(seen) == 1 {
					l.errorAt(s.line, s.col, s.path, "thread group %q starts itself (it runs %s); it would never start", n, w.Threads[groups[n][0]].Run)
				} else {
					l.errorAt(s.line, s.col, s.path, "thread groups start each other: %s; none of them would ever start", strings.Join(append(seen, n), " <- "))
				}
				return
			}
			if len(seen) > len(groups) {
				break
			}
			seen = append(seen, cur)
		}
	}
}

// groupOrder returns the indexes of w.Threads in file order.
func groupOrder(w *Workload) []int {
	out := make([]int, len(w.Threads))
	for i := range out {
		out[i] = i
	}
	return out
}

// checkJoinBeforeStart refuses a thread that joins a group it starts
// before it starts it: the join waits for the group's end, which never
// comes, since the group waits for the start (in real time the run would
// wait until stopped). starter maps each started group to the group that
// starts it, first to its start. The starter's function is followed in
// order, through calls and bodies (a start cannot be in a repeat).
func (l *loader) checkJoinBeforeStart(w *Workload, starter map[string]string, first map[string]startSite) {
	o := &startOrder{w: w, memo: map[string]*fnOrder{}, onPath: map[string]bool{}}
	reported := map[string]bool{}
	for _, gi := range groupOrder(w) {
		g := w.Threads[gi]
		r := o.of(g.Run)
		if r == nil {
			continue
		}
		for _, grp := range r.joined {
			if starter[grp] != g.Name || reported[grp] {
				continue
			}
			reported[grp] = true
			j, s := r.joinsFirst[grp], first[grp]
			l.errorAt(j.line, j.col, j.path, "thread group %q joins thread group %q before it starts it (at %d:%d, in %s); the join would wait forever for threads that wait for their start: start them first", g.Name, grp, s.line, s.col, s.fn)
		}
	}
}

// startOrder computes, per function, the groups it joins before it starts
// them.
type startOrder struct {
	w      *Workload
	memo   map[string]*fnOrder
	onPath map[string]bool
}

type fnOrder struct {
	joinsFirst map[string]joinSite // group -> its first join, made before any start of it
	joined     []string            // the keys of joinsFirst, in the order found
	starts     map[string]bool     // groups started
}

func (o *startOrder) of(fn string) *fnOrder {
	if r, ok := o.memo[fn]; ok {
		return r
	}
	f := o.w.Functions[fn]
	if f == nil || o.onPath[fn] {
		return nil // unknown, or recursion: reported by checkCalls
	}
	o.onPath[fn] = true
	r := &fnOrder{joinsFirst: map[string]joinSite{}, starts: map[string]bool{}}
	join := func(group string, s joinSite) {
		if _, ok := r.joinsFirst[group]; !ok && !r.starts[group] {
			r.joinsFirst[group] = s
			r.joined = append(r.joined, group)
		}
	}
	var walk func(ops []Op, path string)
	walk = func(ops []Op, path string) {
		for i := range ops {
			op := &ops[i]
			p := fmt.Sprintf("%s[%d]", path, i)
			switch op.Kind {
			case OpStart:
				r.starts[op.Group] = true
			case OpJoin:
				join(op.Group, joinSite{group: op.Group, path: p + ".join", line: op.Line, col: op.Col})
			case OpCall:
				if c := o.of(op.Func); c != nil {
					for _, g := range c.joined {
						join(g, c.joinsFirst[g])
					}
					for g := range c.starts {
						r.starts[g] = true
					}
				}
			case OpLock:
				walk(op.Body, p+".lock.body")
			case OpRepeat:
				walk(op.Body, p+".repeat.body")
			}
		}
	}
	walk(f.Ops, "functions."+fn)
	o.onPath[fn] = false
	o.memo[fn] = r
	return r
}
