package workload

import (
	"fmt"
	"sort"
	"strings"
)

// lockEdge says that lock to is acquired while lock from is held, first at
// the given place.
type lockEdge struct {
	from, to  string
	path      string
	line, col int
}

// lockChecker finds the guest locks a thread would take while already
// holding them (a threading.Lock deadlocks on itself) and the lock-order
// cycles between locks (two threads taking them in different orders
// deadlock). Both would make a run hang, so both are load errors.
type lockChecker struct {
	l        *loader
	w        *Workload
	acquires map[string][]string // function -> locks it may take, transitively, sorted
	edges    map[[2]string]lockEdge
	order    [][2]string        // edges in the order found, for deterministic errors
	calls    map[[2]string]bool // (held lock, callee) pairs checked already
}

// checkLocks runs the lock checks. On a call graph with cycles (an error
// of its own) they see, through calls, the locks locksOf finds: no more
// than the graph has, maybe fewer.
func (l *loader) checkLocks(w *Workload) {
	c := &lockChecker{l: l, w: w, acquires: map[string][]string{}, edges: map[[2]string]lockEdge{}, calls: map[[2]string]bool{}}
	for _, f := range functionsByLine(w.Functions) {
		c.walk(f.Ops, "functions."+f.Name)
	}
	c.checkOrder()
}

// locksOf returns the locks function fn may take, directly or through calls.
// A call back into a function whose locks are being collected adds none:
// on a call cycle the result may lack some, and never ends up in a loop.
func (c *lockChecker) locksOf(fn string) []string {
	if s, ok := c.acquires[fn]; ok {
		return s
	}
	c.acquires[fn] = nil // in progress
	set := map[string]bool{}
	var collect func(ops []Op)
	collect = func(ops []Op) {
		for i := range ops {
			switch op := &ops[i]; op.Kind {
			case OpLock:
				set[op.Lock] = true
				collect(op.Body)
			case OpWait:
				set[op.Lock] = true
			case OpRepeat:
				collect(op.Body)
			case OpCall:
				if c.w.Functions[op.Func] != nil {
					for _, m := range c.locksOf(op.Func) {
						set[m] = true
					}
				}
			}
		}
	}
	collect(c.w.Functions[fn].Ops)
	list := make([]string, 0, len(set))
	for m := range set {
		list = append(list, m)
	}
	sort.Strings(list)
	c.acquires[fn] = list
	return list
}

// walk visits every lock operation in ops and checks what its body takes.
func (c *lockChecker) walk(ops []Op, path string) {
	for i := range ops {
		op := &ops[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		switch op.Kind {
		case OpLock:
			c.inside(op, op.Body, p+".lock.body")
			c.walk(op.Body, p+".lock.body")
		case OpRepeat:
			c.walk(op.Body, p+".repeat.body")
		}
	}
}

// inside checks the operations run while held (a lock operation) is held.
func (c *lockChecker) inside(held *Op, ops []Op, path string) {
	for i := range ops {
		op := &ops[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		switch op.Kind {
		case OpLock:
			if op.Lock == held.Lock {
				c.l.errorAt(op.Line, op.Col, p+".lock", "lock %q is already held here (taken at %d:%d); a threading.Lock would deadlock", op.Lock, held.Line, held.Col)
			} else {
				c.edge(held.Lock, op.Lock, p+".lock", op.Line, op.Col)
			}
			c.inside(held, op.Body, p+".lock.body")
		case OpWait:
			if op.Lock == held.Lock {
				c.l.errorAt(op.Line, op.Col, p+".wait", "waits on lock %q, already held here (taken at %d:%d); the wait takes the lock when notified, and a threading.Lock would deadlock", op.Lock, held.Line, held.Col)
			} else {
				c.edge(held.Lock, op.Lock, p+".wait", op.Line, op.Col)
			}
		case OpRepeat:
			c.inside(held, op.Body, p+".repeat.body")
		case OpCall:
			// A second call of the same function under the same lock adds
			// nothing: skipping it bounds the work by the distinct pairs.
			pair := [2]string{held.Lock, op.Func}
			if c.w.Functions[op.Func] == nil || c.calls[pair] {
				continue
			}
			c.calls[pair] = true
			for _, m := range c.locksOf(op.Func) {
				if m == held.Lock {
					c.l.errorAt(op.Line, op.Col, p+".call", "calls %s, which takes lock %q, already held here (taken at %d:%d); a threading.Lock would deadlock", op.Func, m, held.Line, held.Col)
				} else {
					c.edge(held.Lock, m, p+".call", op.Line, op.Col)
				}
			}
		}
	}
}

// edge records that lock to is taken while from is held.
func (c *lockChecker) edge(from, to, path string, line, col int) {
	k := [2]string{from, to}
	if _, ok := c.edges[k]; !ok {
		c.edges[k] = lockEdge{from: from, to: to, path: path, line: line, col: col}
		c.order = append(c.order, k)
	}
}

// checkOrder reports a cycle of the lock-order graph, at the place that
// closes it.
func (c *lockChecker) checkOrder() {
	next := map[string][]lockEdge{}
	var locks []string
	for _, k := range c.order {
		if next[k[0]] == nil {
			locks = append(locks, k[0])
		}
		next[k[0]] = append(next[k[0]], c.edges[k])
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []lockEdge
	var visit func(lock string) bool
	visit = func(lock string) bool {
		state[lock] = onStack
		for _, e := range next[lock] {
			switch state[e.to] {
			case unvisited:
				stack = append(stack, e)
				if visit(e.to) {
					return true
				}
				stack = stack[:len(stack)-1]
			case onStack:
				i := len(stack)
				for i > 0 && stack[i-1].to != e.to {
					i--
				}
				cycle := append(append([]lockEdge(nil), stack[i:]...), e)
				names := []string{e.to}
				var where []string
				for _, ce := range cycle {
					names = append(names, ce.to)
					where = append(where, fmt.Sprintf("%q inside %q at line %d", ce.to, ce.from, ce.line))
				}
				c.l.errorAt(e.line, e.col, e.path, "lock order cycle %s (%s); threads taking these locks in different orders deadlock, so take them in one order",
					strings.Join(names, " -> "), strings.Join(where, ", "))
				return true
			}
		}
		state[lock] = done
		return false
	}
	for _, lock := range locks {
		if state[lock] == unvisited && visit(lock) {
			return // one cycle is enough to fix first
		}
	}
}
