package workload

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxLoadErrors is how many errors one load reports before it summarises the
// rest: enough to fix a file in one pass, few enough to read. The first
// maxCollectedErrors found are sorted, so that those reported are the first
// in the file.
const (
	maxLoadErrors      = 20
	maxCollectedErrors = 1000
)

// LoadError is one problem in a workload file. Its message reads
// "file:line:col: field: what was expected, got what", e.g.
//
//	fixtures/web.yaml:12:5: threads[0].count: expected a positive integer, got "eight"
//
// Line and Col are 1-based; Col is 0 when only the line is known (YAML syntax
// errors) and both are 0 for problems of the whole file.
type LoadError struct {
	File      string
	Line, Col int
	Field     string // path of the offending value, e.g. "functions.render[1].native.duration"; may be ""
	Msg       string
	Err       error // underlying error (e.g. the YAML parser's), or nil
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *LoadError) Unwrap() error { return e.Err }

// LoadErrors is every problem found in one workload file, in file order. Its
// message has one line per error.
type LoadErrors struct {
	Errs    []*LoadError
	Omitted int // errors found beyond the reported ones
}

func (l *LoadErrors) Error() string {
	lines := make([]string, 0, len(l.Errs)+1)
	for _, e := range l.Errs {
		lines = append(lines, e.Error())
	}
	if l.Omitted > 0 {
		lines = append(lines, "(and "+counted(l.Omitted, "more error")+")")
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the errors to errors.Is and errors.As.
func (l *LoadErrors) Unwrap() []error {
	errs := make([]error, len(l.Errs))
	for i, e := range l.Errs {
		errs[i] = e
	}
	return errs
}

// sortLoadErrors puts errors in file order, keeping the order of errors at the
// same position.
func sortLoadErrors(errs []*LoadError) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Col < errs[j].Col
	})
}

// describeNode says what a value is, for "got ..." in messages: a quoted
// string, a number or bool as written, or the kind of a collection.
func describeNode(n *yaml.Node) string {
	n = resolveAlias(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return "an empty mapping"
		}
		return "a mapping"
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return "an empty list"
		}
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float", "!!bool":
			return v
		}
		return strconv.Quote(v)
	}
	return "an unexpected value"
}

// shortDuration formats d without trailing zero units: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// didYouMean returns ` (did you mean "x"?)` for the candidate closest to
// word, if it is close enough to be a likely typo, else "".
func didYouMean(word string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// A third of the longer word, at least 1 edit and at most 3: "treads"
	// finds "threads", "x" does not find "io".
	limit := max(len(word), len(best)) / 3
	limit = min(max(limit, 1), 3)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance between a and b, in
// bytes: insertions, deletions, substitutions and transpositions of adjacent
// bytes ("mdoe" is one edit from "mode") each cost 1.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 { // names are short; bound the work on hostile input
		if a == b {
			return 0
		}
		return max(len(a), len(b))
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// resolveAlias follows an alias (*name) to the anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}
