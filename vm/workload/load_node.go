package workload

import (
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// nodeMap is a decoded YAML mapping whose keys were checked: known, unique.
// Mappings have a handful of keys: slices indexed like known beat maps.
type nodeMap struct {
	node  *yaml.Node
	path  string
	known []string
	keys  []*yaml.Node // keys[i] is the key node of known[i], or nil
	vals  []*yaml.Node // vals[i] is its value
}

// index returns the position of key in known, or -1.
func (m nodeMap) index(key string) int { return slices.Index(m.known, key) }

// value returns the value of key, or nil when the key is absent.
func (m nodeMap) value(key string) *yaml.Node {
	if i := m.index(key); i >= 0 {
		return m.vals[i]
	}
	return nil
}

// key returns the key node of key, for errors about the key itself.
func (m nodeMap) key(key string) *yaml.Node {
	if i := m.index(key); i >= 0 {
		return m.keys[i]
	}
	return nil
}

// require returns the value of key, or reports it missing and returns nil.
func (m nodeMap) require(l *loader, key, expected string) *yaml.Node {
	if v := m.value(key); v != nil {
		return v
	}
	l.errorf(m.node, fieldPath(m.path, key), "missing; expected %s", expected)
	return nil
}

// fieldPath appends key to a field path.
func fieldPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping checks that n is a mapping whose keys are all in known, each once.
// what names the expected value in the error ("a thread group").
func (l *loader) mapping(n *yaml.Node, path, what string, known []string) (nodeMap, bool) {
	n = resolveAlias(n)
	nodes := make([]*yaml.Node, 2*len(known))
	m := nodeMap{node: n, path: path, known: known, keys: nodes[:len(known)], vals: nodes[len(known):]}
	if n == nil || n.Kind != yaml.MappingNode {
		l.errorf(n, path, "expected %s (a mapping of %s), got %s", what, strings.Join(known, ", "), describeNode(n))
		return m, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, path, "expected a key name, got %s", describeNode(k))
			continue
		}
		name := k.Value
		j := m.index(name)
		switch {
		case l.mergeKey(k, path):
		case j < 0:
			l.errorf(k, path, "unknown key %q%s; expected one of %s", name, didYouMean(name, known), strings.Join(known, ", "))
		case m.keys[j] != nil:
			l.errorf(k, fieldPath(path, name), "given twice (first at line %d)", m.keys[j].Line)
		default:
			m.keys[j], m.vals[j] = k, v
		}
	}
	return m, true
}

// mergeKey reports k if it is a YAML merge key (<<:), which the loader
// does not expand, and says whether it was. A quoted "<<" is a plain key.
func (l *loader) mergeKey(k *yaml.Node, path string) bool {
	if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
		return false
	}
	l.errorf(k, path, "merge keys (<<) are not supported; repeat the keys or use an alias (*name) for the whole value")
	return true
}

// sequence checks that n is a list and returns its items.
func (l *loader) sequence(n *yaml.Node, path, what string) ([]*yaml.Node, bool) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		l.errorf(n, path, "expected %s, got %s", what, describeNode(n))
		return nil, false
	}
	return n.Content, true
}

// scalarText returns n's text if n is a non-null scalar.
func scalarText(n *yaml.Node) (string, bool) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", false
	}
	return n.Value, true
}

// str decodes a string. Numbers are accepted as their text (a function may be
// called 2to3); booleans and null are not.
func (l *loader) str(n *yaml.Node, path, expected string) (string, bool) {
	s, ok := scalarText(n)
	if !ok || resolveAlias(n).ShortTag() == "!!bool" {
		l.errorf(n, path, "expected %s, got %s", expected, describeNode(n))
		return "", false
	}
	return s, true
}

// name decodes the name of a thread, function, lock or native call: printable
// text without line breaks, at most MaxNameLen bytes.
func (l *loader) name(n *yaml.Node, path string) (string, bool) {
	s, ok := l.str(n, path, "a name")
	if !ok {
		return "", false
	}
	switch {
	case s == "" || strings.TrimSpace(s) != s:
		l.errorf(n, path, "expected a name without leading or trailing spaces, got %s", describeNode(n))
	case len(s) > MaxNameLen:
		l.errorf(n, path, "name is %d bytes long; the limit is %d", len(s), MaxNameLen)
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		l.errorf(n, path, "expected a name of printable characters, got %s", describeNode(n))
	default:
		return s, true
	}
	return "", false
}

// fileNameRe is what a workload name may be: it names the output directory.
var fileNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// fileName decodes the workload's name, which must be safe as a directory name.
func (l *loader) fileName(n *yaml.Node, path string) (string, bool) {
	s, ok := l.name(n, path)
	if !ok {
		return "", false
	}
	if !fileNameRe.MatchString(s) {
		l.errorf(n, path, "expected a name of letters, digits, '.', '_' and '-' starting with a letter or digit (it names the output directory), got %s", describeNode(n))
		return "", false
	}
	return s, true
}

// ioKindRe is what an I/O kind may be: a short lower-case word.
var ioKindRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// integer decodes a whole number in [lo, hi]. 1e6 is accepted as 1000000;
// 1_000 as 1000.
func (l *loader) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	expected := "an integer"
	if lo == 1 {
		expected = "a positive integer"
	}
	rn := resolveAlias(n)
	if rn == nil || rn.Kind != yaml.ScalarNode {
		l.errorf(n, path, "expected %s, got %s", expected, describeNode(n))
		return 0, false
	}
	var v int64
	switch rn.ShortTag() {
	case "!!int":
		if err := rn.Decode(&v); err != nil {
			l.errorf(n, path, "%s is out of range; expected %s of at most %d", rn.Value, expected, hi)
			return 0, false
		}
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(rn.Value, "_", ""), 64)
		if err != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
			l.errorf(n, path, "expected %s, got %s", expected, describeNode(n))
			return 0, false
		}
		// 0x1p63 is the first float past int64: float64(math.MaxInt64) rounds
		// up to it, so the comparison with hi alone would let it through.
		if f > float64(hi) || f < float64(lo) || f >= 0x1p63 {
			return 0, l.outOfRange(n, path, expected, rn.Value, lo, hi)
		}
		v = int64(f)
	default:
		l.errorf(n, path, "expected %s, got %s", expected, describeNode(n))
		return 0, false
	}
	if v < lo || v > hi {
		return 0, l.outOfRange(n, path, expected, strconv.FormatInt(v, 10), lo, hi)
	}
	return v, true
}

// outOfRange reports an integer outside [lo, hi] and returns false.
func (l *loader) outOfRange(n *yaml.Node, path, expected, got string, lo, hi int64) bool {
	if strings.HasPrefix(got, "-") || got == "0" || lo > 1 {
		if lo == 1 {
			l.errorf(n, path, "expected %s, got %s", expected, got)
		} else {
			l.errorf(n, path, "expected at least %d, got %s", lo, got)
		}
		return false
	}
	l.errorf(n, path, "%s exceeds the limit of %d", got, hi)
	return false
}

// duration decodes a Go duration ("200us", "5ms", "1.5s") in [lo,
// MaxDuration] (MaxModelDuration for a model).
// lo is 0 where 0 makes sense (start_after, jitter).
func (l *loader) duration(n *yaml.Node, path string, lo time.Duration) (time.Duration, bool) {
	s, ok := scalarText(n)
	if !ok || resolveAlias(n).ShortTag() == "!!bool" {
		l.errorf(n, path, "expected a duration like 200us, 5ms or 1.5s, got %s", describeNode(n))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if f, numErr := strconv.ParseFloat(s, 64); numErr == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			// Only a finite number: "NaNms" is no duration either (QA).
			l.errorf(n, path, "expected a duration with a unit (ns, us, ms, s, m, h), like %sms; got %s", s, s)
		} else {
			l.errorf(n, path, "expected a duration like 200us, 5ms or 1.5s, got %s", describeNode(n))
		}
		return 0, false
	}
	switch {
	case d < 0 && lo == 0:
		l.errorf(n, path, "expected a duration of 0 or more, got %s", s)
	case d < lo && lo <= time.Nanosecond:
		l.errorf(n, path, "expected a duration greater than 0, got %s", s)
	case d < lo:
		l.errorf(n, path, "expected a duration of at least %s, got %s", shortDuration(lo), s)
	case d > l.maxDuration:
		l.errorf(n, path, "%s exceeds the limit of %s", s, shortDuration(l.maxDuration))
	default:
		return d, true
	}
	return 0, false
}

// boolean decodes true or false.
func (l *loader) boolean(n *yaml.Node, path string) (bool, bool) {
	rn := resolveAlias(n)
	if rn == nil || rn.Kind != yaml.ScalarNode || rn.ShortTag() != "!!bool" {
		l.errorf(n, path, "expected true or false, got %s", describeNode(n))
		return false, false
	}
	var b bool
	if err := rn.Decode(&b); err != nil {
		l.errorf(n, path, "expected true or false, got %s", describeNode(n))
		return false, false
	}
	return b, true
}

// sortedFuncNames returns the names of funcs, sorted.
func sortedFuncNames(funcs map[string]*Function) []string {
	names := make([]string, 0, len(funcs))
	for n := range funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
