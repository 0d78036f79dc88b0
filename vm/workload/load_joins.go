package workload

import (
	"fmt"
	"sort"
	"strings"
)

// joinSite is one join operation.
type joinSite struct {
	group     string
	path      string // field path of the join operation
	line, col int
}

// joinSites lists the joins in ops and their bodies, in file order.
func joinSites(ops []Op, path string, out []joinSite) []joinSite {
	for i := range ops {
		op := &ops[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		switch op.Kind {
		case OpJoin:
			out = append(out, joinSite{group: op.Group, path: p + ".join", line: op.Line, col: op.Col})
		case OpLock:
			out = joinSites(op.Body, p+".lock.body", out)
		case OpRepeat:
			out = joinSites(op.Body, p+".repeat.body", out)
		}
	}
	return out
}

// joinChecker checks the joins: each names a thread group, and none can
// wait forever. A join waits until every thread of the groups of that name
// has ended, so three uses would hang a run:
//   - a group whose threads join their own group (a thread waits for its
//     own end), or groups joining each other in a cycle;
//   - a join while holding a lock that a joined thread takes: the joined
//     thread waits for the lock, the holder for the thread.
type joinChecker struct {
	l      *loader
	w      *Workload
	groups map[string][]int           // group name -> indexes in w.Threads
	sites  map[string][]joinSite      // function -> its own joins
	joins  map[string][]joinSite      // function -> the first join of each group it makes, directly or through calls
	locks  map[string]map[string]bool // function -> the locks it takes, directly or through calls
	onPath map[string]bool
}

// checkJoins runs the join checks.
func (l *loader) checkJoins(w *Workload) {
	c := &joinChecker{l: l, w: w, groups: map[string][]int{}, sites: map[string][]joinSite{},
		joins: map[string][]joinSite{}, locks: map[string]map[string]bool{}, onPath: map[string]bool{}}
	var names []string
	for i, g := range w.Threads {
		if c.groups[g.Name] == nil {
			names = append(names, g.Name)
		}
		c.groups[g.Name] = append(c.groups[g.Name], i)
	}
	found := false
	for _, f := range functionsByLine(w.Functions) {
		for _, s := range joinSites(f.Ops, "functions."+f.Name, nil) {
			found = true
			if c.groups[s.group] == nil {
				if len(w.Threads) > 0 {
					l.errorAt(s.line, s.col, s.path, unknownGroup+" %q%s; expected the name of a group of threads: %s", s.group, didYouMean(s.group, names), strings.Join(names, ", "))
				}
				continue
			}
			c.sites[f.Name] = append(c.sites[f.Name], s)
		}
	}
	if !found {
		return
	}
	c.checkHeldLocks()
	c.checkCycles()
}

// joinsOf returns the first join of each group that function fn makes,
// directly or through calls (recursion, reported by checkCalls, is cut).
func (c *joinChecker) joinsOf(fn string) []joinSite {
	if s, ok := c.joins[fn]; ok {
		return s
	}
	f := c.w.Functions[fn]
	if f == nil || c.onPath[fn] {
		return nil
	}
	c.onPath[fn] = true
	var out []joinSite
	seen := map[string]bool{}
	add := func(s joinSite) {
		if !seen[s.group] {
			seen[s.group] = true
			out = append(out, s)
		}
	}
	var walk func(ops []Op)
	walk = func(ops []Op) {
		for i := range ops {
			switch op := &ops[i]; op.Kind {
			case OpCall:
				for _, s := range c.joinsOf(op.Func) {
					add(s)
				}
			case OpLock, OpRepeat:
				walk(op.Body)
			}
		}
	}
	// The function's own joins in file order, then those of its callees.
	for _, s := range c.sites[fn] {
		add(s)
	}
	walk(f.Ops)
	c.onPath[fn] = false
	c.joins[fn] = out
	return out
}

// locksOf returns the locks function fn takes, directly or through calls.
func (c *joinChecker) locksOf(fn string) map[string]bool {
	if s, ok := c.locks[fn]; ok {
		return s
	}
	f := c.w.Functions[fn]
	if f == nil || c.onPath[fn] {
		return nil
	}
	c.onPath[fn] = true
	set := map[string]bool{}
	var walk func(ops []Op)
	walk = func(ops []Op) {
		for i := range ops {
			switch op := &ops[i]; op.Kind {
			case OpLock:
				set[op.Lock] = true
				walk(op.Body)
			case OpRepeat:
				walk(op.Body)
			case OpCall:
				for m := range c.locksOf(op.Func) {
					set[m] = true
				}
			}
		}
	}
	walk(f.Ops)
	c.onPath[fn] = false
	c.locks[fn] = set
	return set
}

// checkHeldLocks reports a join made while holding a lock that a thread
// of the joined group takes: a join in a lock body, or a call in a lock
// body of a function that joins (directly or through calls).
func (c *joinChecker) checkHeldLocks() {
	for _, f := range functionsByLine(c.w.Functions) {
		c.walkHeld(f.Ops, "functions."+f.Name, nil)
	}
}

func (c *joinChecker) walkHeld(ops []Op, path string, held []*Op) {
	for i := range ops {
		op := &ops[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		switch op.Kind {
		case OpJoin:
			if c.groups[op.Group] != nil {
				c.heldBy(op.Group, held, op.Line, op.Col, p+".join", "joins")
			}
		case OpLock:
			c.walkHeld(op.Body, p+".lock.body", append(held[:len(held):len(held)], op))
		case OpRepeat:
			c.walkHeld(op.Body, p+".repeat.body", held)
		case OpCall:
			if len(held) == 0 {
				continue
			}
			for _, s := range c.joinsOf(op.Func) {
				c.heldBy(s.group, held, op.Line, op.Col, p+".call", fmt.Sprintf("calls %s, which joins", op.Func))
			}
		}
	}
}

// heldBy reports a join of group made (by what) while the locks held are
// held, if a thread of the group takes one of them.
func (c *joinChecker) heldBy(group string, held []*Op, line, col int, path, what string) {
	for _, h := range held {
		for _, gi := range c.groups[group] {
			g := c.w.Threads[gi]
			if c.locksOf(g.Run)[h.Lock] {
				c.l.errorAt(line, col, path, "%s thread group %q while holding lock %q (taken at %d:%d), which its threads, running %s, take; the join would wait forever: join after the lock's body", what, group, h.Lock, h.Line, h.Col, g.Run)
				return
			}
		}
	}
}

// checkCycles reports thread groups whose threads join their own group, or
// groups joining each other in a cycle, at the join that closes it.
func (c *joinChecker) checkCycles() {
	var names []string
	for n := range c.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	// next: group name -> the joins its threads make (of every group of the name).
	next := map[string][]joinSite{}
	for _, n := range names {
		for _, gi := range c.groups[n] {
			next[n] = append(next[n], c.joinsOf(c.w.Threads[gi].Run)...)
		}
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(n string) bool
	visit = func(n string) bool {
		state[n] = onStack
		stack = append(stack, n)
		for _, s := range next[n] {
			switch state[s.group] {
			case unvisited:
				if visit(s.group) {
					return true
				}
			case onStack:
				if s.group == n {
					c.l.errorAt(s.line, s.col, s.path, "thread group %q joins itself: its threads run %s, which joins %q; a thread would wait for its own end (deadlock)", n, c.w.Threads[c.groups[n][0]].Run, n)
					return true
				}
				i := len(stack) - 1
				for stack[i] != s.group {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), s.group)
				c.l.errorAt(s.line, s.col, s.path, "thread groups join each other: %s; each would wait for the other to end (deadlock)", strings.Join(cycle, " -> "))
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return false
	}
	for _, n := range names {
		if state[n] == unvisited && visit(n) {
			return
		}
	}
}
