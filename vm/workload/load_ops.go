package workload

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// opNames are the operation keys of format v1.
var opNames = []string{"call", "compute", "io", "sleep", "native", "lock", "repeat", "join", "start", "wait", "notify"}

// functions decodes the functions: mapping of name to list of operations.
func (l *loader) functions(n *yaml.Node) map[string]*Function {
	funcs := map[string]*Function{}
	rn := resolveAlias(n)
	if rn == nil || rn.Kind != yaml.MappingNode {
		l.errorf(n, "functions", "expected a mapping of function names to lists of operations, got %s", describeNode(n))
		return funcs
	}
	if len(rn.Content) == 0 {
		l.errorf(n, "functions", "expected at least one function, got an empty mapping")
		return funcs
	}
	if len(rn.Content)/2 > l.maxFunctions {
		l.errorf(n, "functions", "%d functions exceed the limit of %d", len(rn.Content)/2, l.maxFunctions)
		return funcs
	}
	for i := 0; i+1 < len(rn.Content); i += 2 {
		k, v := rn.Content[i], rn.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, "functions", "expected a function name, got %s", describeNode(k))
			continue
		}
		if l.mergeKey(k, "functions") {
			continue
		}
		name, ok := l.name(k, "functions."+k.Value)
		if !ok {
			continue
		}
		path := "functions." + name
		if f := funcs[name]; f != nil {
			l.errorf(k, path, "function defined twice (first at line %d)", f.Line)
			continue
		}
		funcs[name] = &Function{Name: name, Line: k.Line, Ops: l.ops(v, path, 1)}
	}
	return funcs
}

// ops decodes a list of operations: a function's body at depth 1, a lock or
// repeat body one deeper than its operation.
func (l *loader) ops(n *yaml.Node, path string, depth int) []Op {
	if depth > MaxDepth {
		l.errorf(n, path, "operations nest %d deep, beyond the limit of %d; move the inner part into a function and call it", depth, MaxDepth)
		return nil
	}
	seq, ok := l.sequence(n, path, "a list of operations (each item like - compute: 2ms)")
	if !ok {
		return nil
	}
	if len(seq) == 0 {
		l.errorf(n, path, "expected at least one operation, got an empty list")
		return nil
	}
	ops := make([]Op, 0, len(seq))
	for i, item := range seq {
		if l.opsFull {
			break
		}
		op, ok := l.op(item, fmt.Sprintf("%s[%d]", path, i), depth)
		// A repeat refused for its times keeps its body, for the checks
		// of what it runs (a lock taken again where it is held): only the
		// cost check, which runs on a file without errors, reads Times.
		if !ok && !(op.Kind == OpRepeat && len(op.Body) > 0) {
			// Keeps its place (an operation of no kind: the workload is
			// refused anyway), so that the later checks' paths name the
			// operations by their index in the file.
			op = Op{Line: item.Line, Col: item.Column}
		}
		ops = append(ops, op)
	}
	return ops
}

// op decodes one operation: a mapping with exactly one key, the op's name.
func (l *loader) op(n *yaml.Node, path string, depth int) (Op, bool) {
	rn := resolveAlias(n)
	if rn == nil || rn.Kind != yaml.MappingNode || len(rn.Content) == 0 {
		hint := ""
		if s, ok := scalarText(rn); ok {
			name, value, colon := strings.Cut(s, ":")
			switch {
			case slices.Contains(opNames, s):
				hint = fmt.Sprintf(" (%s needs a value: - %s: ...)", s, s)
			case colon && slices.Contains(opNames, name):
				hint = fmt.Sprintf(" (put a space after the colon: - %s: %s)", name, value)
			}
		}
		l.errorf(n, path, "expected an operation (one of %s), got %s%s", strings.Join(opNames, ", "), describeNode(n), hint)
		return Op{}, false
	}
	// A merge key is named as such, not as an unknown operation "<<"
	// (QA) or as one key too many.
	for i := 0; i < len(rn.Content); i += 2 {
		if l.mergeKey(rn.Content[i], path) {
			return Op{}, false
		}
	}
	if len(rn.Content) > 2 {
		keys := make([]string, 0, len(rn.Content)/2)
		for i := 0; i < len(rn.Content); i += 2 {
			keys = append(keys, rn.Content[i].Value)
		}
		l.errorf(rn.Content[2], path, "an operation has exactly one key, got %s; start each operation with its own -", strings.Join(keys, " and "))
		return Op{}, false
	}
	l.opCount++
	if l.opCount > l.maxOps {
		l.errorf(n, path, "more than %d operations in the workload; that is the limit", l.maxOps)
		l.opsFull = true
		return Op{}, false
	}
	k, v := rn.Content[0], rn.Content[1]
	if k.Kind != yaml.ScalarNode {
		l.errorf(k, path, "expected an operation name, got %s", describeNode(k))
		return Op{}, false
	}
	field := path + "." + k.Value
	var op Op
	ok := false
	switch k.Value {
	case "call":
		op.Kind = OpCall
		op.Func, ok = l.name(v, field)
	case "compute":
		op, ok = l.compute(v, field)
	case "io":
		op, ok = l.io(v, field)
	case "sleep":
		op = Op{Kind: OpIO, IOKind: "sleep"}
		op.Duration, ok = l.duration(v, field, time.Nanosecond)
	case "native":
		op, ok = l.native(v, field)
	case "lock":
		op, ok = l.lock(v, field, depth)
	case "repeat":
		op, ok = l.repeat(v, field, depth)
	case "join":
		op.Kind = OpJoin
		op.Group, ok = l.name(v, field)
	case "start":
		op.Kind = OpStart
		op.Group, ok = l.name(v, field)
	case "wait":
		op, ok = l.wait(v, field)
	case "notify":
		op.Kind = OpNotify
		op.Lock, ok = l.name(v, field)
		ok = ok && l.countLock(v, field, op.Lock)
	default:
		l.errorf(k, path, "unknown operation %q%s; expected one of %s", k.Value, didYouMean(k.Value, opNames), strings.Join(opNames, ", "))
		return Op{}, false
	}
	op.Line, op.Col = k.Line, k.Column
	return op, ok
}

// compute decodes `compute: 2ms`, `{duration: 2ms}` or `{loops: N}`.
func (l *loader) compute(v *yaml.Node, path string) (Op, bool) {
	op := Op{Kind: OpCompute}
	rv := resolveAlias(v)
	if rv != nil && rv.Kind == yaml.ScalarNode && rv.ShortTag() == "!!int" {
		// Suggest {loops: N} only where N is itself accepted.
		if n, err := strconv.ParseInt(rv.Value, 0, 64); err == nil && n >= 1 && n <= MaxLoops {
			l.errorf(v, path, "expected a duration like 2ms, or {loops: %d} for an exact count of loop iterations; got %s", n, rv.Value)
		} else {
			l.errorf(v, path, "expected a positive duration like 2ms, or {loops: N} with N from 1 to %d for an exact count of loop iterations; got %s", int64(MaxLoops), rv.Value)
		}
		return op, false
	}
	if rv == nil || rv.Kind != yaml.MappingNode {
		var ok bool
		op.Duration, ok = l.duration(v, path, time.Nanosecond)
		return op, ok
	}
	m, ok := l.mapping(v, path, "a compute", formatKeys["compute"])
	if !ok {
		return op, false
	}
	d, loops := m.value("duration"), m.value("loops")
	switch {
	case d != nil && loops != nil:
		l.errorf(m.key("loops"), path, "give either duration or loops, not both")
		return op, false
	case d != nil:
		op.Duration, ok = l.duration(d, path+".duration", time.Nanosecond)
	case loops != nil:
		op.Loops, ok = l.integer(loops, path+".loops", 1, MaxLoops)
	default:
		l.errorf(v, path, "expected duration or loops, got %s", describeNode(v))
		ok = false
	}
	return op, ok
}

// timed decodes an operation written either as a bare duration or as a
// mapping with a required duration. more says whether the caller should
// decode the mapping's other keys: false for the bare form and for a value
// that is not a valid mapping.
func (l *loader) timed(v *yaml.Node, path, what, example string, known []string) (m nodeMap, more bool, d time.Duration, ok bool) {
	if rv := resolveAlias(v); rv == nil || rv.Kind != yaml.MappingNode {
		d, ok = l.duration(v, path, time.Nanosecond)
		return m, false, d, ok
	}
	if m, ok = l.mapping(v, path, what, known); !ok {
		return m, false, 0, false
	}
	dn := m.require(l, "duration", example)
	if dn == nil {
		return m, true, 0, false
	}
	d, ok = l.duration(dn, path+".duration", time.Nanosecond)
	return m, true, d, ok
}

// io decodes `io: 20ms` or `{duration: 20ms, jitter: 5ms, kind: db}`, or
// `{duration: 20ms, kind: disk, until: L}`: ended by a notify on L if one
// comes first.
func (l *loader) io(v *yaml.Node, path string) (Op, bool) {
	op := Op{Kind: OpIO, IOKind: DefaultIOKind}
	m, more, d, ok := l.timed(v, path, "an I/O", "a duration like 20ms", formatKeys["io"])
	op.Duration = d
	if !more {
		return op, ok
	}
	if j := m.value("jitter"); j != nil {
		var jok bool
		op.Jitter, jok = l.duration(j, path+".jitter", 0)
		if jok && ok && op.Jitter > op.Duration {
			l.errorf(j, path+".jitter", "jitter %s exceeds the duration %s; an I/O lasts duration ± jitter, which must not go below 0", op.Jitter, op.Duration)
			jok = false
		}
		ok = ok && jok
	}
	if k := m.value("kind"); k != nil {
		s, kok := l.str(k, path+".kind", "an I/O kind like network, disk or db")
		if kok && !ioKindRe.MatchString(s) {
			l.errorf(k, path+".kind", "expected a lower-case word of at most 32 characters like network, disk or db, got %s", describeNode(k))
			kok = false
		}
		op.IOKind = s
		ok = ok && kok
	}
	if u := m.value("until"); u != nil {
		// A blocking call that a notify on lock u ends, at most its
		// duration: a read of a pipe that another thread or process
		// writes (what giltrace model writes for a wait it saw ended so).
		var uok bool
		op.Lock, uok = l.name(u, path+".until")
		op.UntilNotify = true
		ok = ok && uok && l.countLock(u, path+".until", op.Lock)
	}
	return op, ok
}

// native decodes `native: 1ms` (holding the GIL) or
// `{duration: 1ms, releases_gil: true, name: numpy.dot}`.
func (l *loader) native(v *yaml.Node, path string) (Op, bool) {
	op := Op{Kind: OpNative}
	m, more, d, ok := l.timed(v, path, "a native call", "a duration like 1ms", formatKeys["native"])
	op.Duration = d
	if !more {
		return op, ok
	}
	if r := m.value("releases_gil"); r != nil {
		var rok bool
		op.ReleasesGIL, rok = l.boolean(r, path+".releases_gil")
		ok = ok && rok
	}
	if nm := m.value("name"); nm != nil {
		var nok bool
		op.NativeName, nok = l.name(nm, path+".name")
		ok = ok && nok
	}
	return op, ok
}

// wait decodes `wait: 5ms`, `{duration: 5ms, lock: queue}` or `{lock:
// queue, until: notify}`: a wait for a notification on a guest lock
// (DefaultWaitLock if none is named), for a duration or until a notify.
func (l *loader) wait(v *yaml.Node, path string) (Op, bool) {
	op := Op{Kind: OpWait, Lock: DefaultWaitLock}
	if rv := resolveAlias(v); rv != nil && rv.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(rv.Content); i += 2 {
			if rv.Content[i].Value == "until" {
				m, ok := l.mapping(v, path, "a wait", formatKeys["wait"])
				if !ok {
					return op, false
				}
				return l.waitUntil(v, m, path)
			}
		}
	}
	m, more, d, ok := l.timed(v, path, "a wait", "a duration like 5ms, or until: notify", formatKeys["wait"])
	op.Duration = d
	at := v
	if more {
		if nm := m.value("lock"); nm != nil {
			var nok bool
			op.Lock, nok = l.name(nm, path+".lock")
			ok, at = ok && nok, nm
		}
	}
	return op, l.countLock(at, path, op.Lock) && ok
}

// waitUntil decodes `{lock: queue, until: notify}`: a wait that ends at a
// notify on the lock, or gives up after its duration if it has one.
func (l *loader) waitUntil(v *yaml.Node, m nodeMap, path string) (Op, bool) {
	op := Op{Kind: OpWait, Lock: DefaultWaitLock, UntilNotify: true}
	ok := true
	if u := m.value("until"); u != nil {
		s, uok := l.str(u, path+".until", "notify")
		if uok && s != "notify" {
			l.errorf(u, path+".until", "expected notify (the wait ends at a notify: on its lock), got %s", describeNode(u))
			uok = false
		}
		ok = uok
	}
	if d := m.value("duration"); d != nil {
		var dok bool
		op.Duration, dok = l.duration(d, path+".duration", time.Nanosecond)
		ok = ok && dok
	}
	at := v
	if nm := m.value("lock"); nm != nil {
		var nok bool
		op.Lock, nok = l.name(nm, path+".lock")
		ok, at = ok && nok, nm
	}
	return op, l.countLock(at, path, op.Lock) && ok
}

// countLock counts a guest lock name against MaxLocks.
func (l *loader) countLock(n *yaml.Node, path, name string) bool {
	if l.locks[name] {
		return true
	}
	if len(l.locks) == MaxLocks {
		l.errorf(n, path, "more than %d distinct lock names; that is the limit", MaxLocks)
		return false
	}
	l.locks[name] = true
	return true
}

// lock decodes `{name: cache, body: [...]}`.
func (l *loader) lock(v *yaml.Node, path string, depth int) (Op, bool) {
	op := Op{Kind: OpLock}
	m, ok := l.mapping(v, path, "a lock", formatKeys["lock"])
	if !ok {
		return op, false
	}
	if nm := m.require(l, "name", "the lock's name"); nm != nil {
		op.Lock, ok = l.name(nm, path+".name")
		ok = ok && l.countLock(nm, path+".name", op.Lock)
	} else {
		ok = false
	}
	if b := m.require(l, "body", "a list of operations run while holding the lock"); b != nil {
		op.Body = l.ops(b, path+".body", depth+1)
	}
	return op, ok && len(op.Body) > 0
}

// repeat decodes `{times: 3, body: [...]}`.
func (l *loader) repeat(v *yaml.Node, path string, depth int) (Op, bool) {
	op := Op{Kind: OpRepeat}
	m, ok := l.mapping(v, path, "a repeat", formatKeys["repeat"])
	if !ok {
		return op, false
	}
	if t := m.require(l, "times", "a positive integer"); t != nil {
		var n int64
		n, ok = l.integer(t, path+".times", 1, MaxTimes)
		op.Times = int(n)
	} else {
		ok = false
	}
	if b := m.require(l, "body", "a list of operations to repeat"); b != nil {
		op.Body = l.ops(b, path+".body", depth+1)
	}
	return op, ok && len(op.Body) > 0
}

// functionsByLine returns the functions in file order.
func functionsByLine(funcs map[string]*Function) []*Function {
	list := make([]*Function, 0, len(funcs))
	for _, f := range funcs {
		list = append(list, f)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Line != list[j].Line {
			return list[i].Line < list[j].Line
		}
		return list[i].Name < list[j].Name
	})
	return list
}
