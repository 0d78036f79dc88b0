package workload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/giltrace/giltrace/tracer"
	"go.yaml.in/yaml/v3"
)

// Limits of a workload file (format v1). They keep a mistaken or hostile file
// from exhausting memory, overflowing counters or running for days; an error
// that hits one states the limit. docs/workloads.md lists them.
const (
	MaxFileSize      = 1 << 20           // bytes of source
	MaxProcesses     = 64                // processes:
	MaxThreads       = 1024              // threads in total: the sum of count, times processes
	MaxFunctions     = 4096              // entries of functions:
	MaxOps           = 100_000           // operations in all functions as written (a repeat body counts once)
	MaxDepth         = 32                // nesting of lock/repeat bodies in a function; frames in a call chain
	MaxDuration      = time.Hour         // any single duration
	MaxLoops         = 100_000_000_000   // compute {loops: N}
	MaxTimes         = 1_000_000         // repeat {times: N}, and a thread group's repeat
	MaxCheckInterval = 1_000_000         // gil.check_interval, in instructions
	MaxNameLen       = 128               // any name
	MaxLocks         = 256               // distinct guest lock names
	MaxThreadTime    = 24 * time.Hour    // a thread's planned time: start_after plus every duration it runs, over all repeats and calls
	MaxThreadLoops   = 1_000_000_000_000 // a thread's planned compute loops over all repeats and calls
	MaxThreadOps     = 1_000_000_000     // a thread's planned operations over all repeats and calls: each costs about a microsecond to run, however short
	MaxTotalOps      = 1_000_000_000     // every thread's planned operations together: minutes of CPU, not days (QA: 1024 threads x 1e8 operations each passed)
	MaxCores         = 4096              // cores: (simulated, virtual time)
)

// MinSwitchInterval is the smallest gil.switch_interval: CPython keeps the
// interval in whole microseconds (sys.setswitchinterval).
const MinSwitchInterval = time.Microsecond

// WholeMicroseconds says why d is no switch interval CPython could have,
// "" if it is one: a whole number of microseconds (QA: 1500ns ran as
// 1.5 us, which sys.setswitchinterval truncates to 1 us).
func WholeMicroseconds(d time.Duration) string {
	if d%time.Microsecond == 0 {
		return ""
	}
	lo := d.Truncate(time.Microsecond)
	return fmt.Sprintf("%v is not a whole number of microseconds, in which CPython keeps the switch interval (sys.setswitchinterval); use %v or %v", d, lo, lo+time.Microsecond)
}

// Defaults of format v1.
const (
	DefaultGILMode        = tracer.GILCPython
	DefaultSwitchInterval = 5 * time.Millisecond // CPython's sys.getswitchinterval()
	DefaultCheckInterval  = 100                  // Python 2's sys.getcheckinterval()
	DefaultProcesses      = 1
	DefaultSeed           = int64(1)
	DefaultIOKind         = "io"
)

// FormatVersion is the workload format this loader reads (the optional
// top-level version: key).
const FormatVersion = 1

// gilModes are the values of gil.mode.
var gilModes = func() []string {
	var names []string
	for _, m := range tracer.GILModes {
		names = append(names, string(m))
	}
	return names
}()

// formatKeys are the keys of each mapping of format v1, by place: "" for the
// top level, "gil", "threads" for a thread group, and an operation's name
// for its long form. docs/workload.schema.json must agree (a test checks).
var formatKeys = map[string][]string{
	"":        {"version", "name", "description", "gil", "processes", "seed", "clock", "cores", "threads", "functions"},
	"gil":     {"mode", "switch_interval", "check_interval"},
	"threads": {"name", "count", "run", "repeat", "start_after", "process", "daemon"},
	"compute": {"duration", "loops"},
	"io":      {"duration", "jitter", "kind", "until"},
	"native":  {"duration", "releases_gil", "name"},
	"lock":    {"name", "body"},
	"repeat":  {"times", "body"},
	"wait":    {"duration", "lock", "until"},
}

// A model that giltrace wrote (giltrace model, the what-if's prediction:
// text that begins with ModelHeader) is machine-made, one function per
// passage of the run, and is bounded more generously than a file written
// by hand: MaxModelSize bytes instead of MaxFileSize, MaxModelOps
// operations instead of MaxOps and MaxModelFunctions functions instead of
// MaxFunctions, and durations up to MaxModelDuration (a thread's
// planned time MaxModelThreadTime) instead of MaxDuration and
// MaxThreadTime. The bounds still keep an absurd file from exhausting
// memory (QA: the model of a 12-line lock counter's run was 1.8 MB, over
// MaxFileSize, and record dropped its prediction; a single-threaded job
// of two hours, one compute, made a model that did not load).
const (
	ModelHeader        = "# Modelled by giltrace model" // the first line's start of a model (package model writes it)
	MaxModelSize       = 16 << 20                       // bytes of a model's source
	MaxModelOps        = 1_000_000                      // operations in all functions of a model as written
	MaxModelFunctions  = 65536                          // entries of a model's functions:
	MaxModelDuration   = 7 * 24 * time.Hour             // any single duration of a model: a run's longest stretch
	MaxModelThreadTime = 7 * 24 * time.Hour             // a model's thread's planned time: the run's length
)

// Load reads and validates the workload file at path. Errors name the file,
// line and column, the field and what was expected; a file with several
// problems gives a *LoadErrors listing them. See Parse.
func Load(path string) (*Workload, error) {
	// A FIFO would block the open until a writer comes, a directory or a
	// device is no workload: only regular files (or links to them).
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading workload %s: not a regular file (%s)", path, tracer.FileKind(fi.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading workload: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxModelSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading workload %s: %w", path, err)
	}
	return Parse(path, src)
}

// Parse validates the workload text src; name is where it came from (a path,
// or "" for text from memory) and prefixes every error ("workload" if "").
// The returned Workload has every default filled in, File set to name and
// Source to a copy of src. Parse never panics on bad input; it is safe to
// call concurrently.
func Parse(name string, src []byte) (w *Workload, err error) {
	file := name
	if name == "" {
		name = "workload"
	}
	l := &loader{file: name, locks: map[string]bool{}, maxOps: MaxOps, maxFunctions: MaxFunctions, maxDuration: MaxDuration, maxThreadTime: MaxThreadTime}
	isModel := bytes.HasPrefix(src, []byte(ModelHeader))
	if isModel {
		l.maxOps, l.maxFunctions = MaxModelOps, MaxModelFunctions
		l.maxDuration, l.maxThreadTime = MaxModelDuration, MaxModelThreadTime
	}
	defer func() {
		// The YAML library is not ours; a panic in it on odd input must still
		// be an error, never a crash.
		if r := recover(); r != nil {
			w, err = nil, &LoadError{File: name, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	if isModel && len(src) > MaxModelSize {
		return nil, &LoadError{File: name, Msg: fmt.Sprintf("model of %d bytes is larger than the limit of %d bytes (16 MiB) for a model giltrace wrote", len(src), MaxModelSize)}
	}
	if !isModel && len(src) > MaxFileSize {
		return nil, &LoadError{File: name, Msg: fmt.Sprintf("file is larger than the limit of %d bytes (1 MiB)", MaxFileSize)}
	}
	if err := checkUTF8(name, src); err != nil {
		return nil, err
	}
	root, err := l.decodeYAML(src)
	if err != nil {
		return nil, err
	}
	w = l.workload(root)
	if len(l.errs) > 0 {
		return nil, l.result()
	}
	w.File = file
	w.Source = bytes.Clone(src)
	return w, nil
}

// yamlLineRe matches the position the YAML library puts in its messages.
var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML parses src as one YAML document and returns its root node.
func (l *loader) decodeYAML(src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &LoadError{File: l.file, Msg: "empty workload; expected a mapping with name, threads and functions"}
		}
		return nil, l.yamlError(err, src)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, l.yamlError(err, src)
	default:
		return nil, &LoadError{File: l.file, Line: extra.Line, Col: extra.Column,
			Msg: "a second YAML document (after ---); a workload file holds exactly one"}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	return root, nil
}

// yamlError turns a YAML syntax error into a LoadError that keeps its line:
// the line of the problem (problemLine) when it can be found, else the one
// the YAML library names.
func (l *loader) yamlError(err error, src []byte) error {
	e := &LoadError{File: l.file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "invalid YAML: " + m[2]
		if n := problemLine(src, m[2]); n > e.Line {
			e.Line = n
		}
	}
	if e.Line == 0 && strings.Contains(e.Msg, "control characters are not allowed") {
		// The library gives no position: the first such byte's.
		e.Line, e.Col = controlChar(src)
	}
	if m := unknownAnchorRe.FindStringSubmatch(err.Error()); e.Line == 0 && m != nil {
		// Nor for an alias of no anchor (QA): the alias's.
		e.Line, e.Col = aliasAt(src, err.Error(), m[1])
	}
	switch {
	case strings.Contains(e.Msg, "mapping values are not allowed"):
		e.Msg += " (quote a text that contains \": \")"
	case strings.HasSuffix(e.Msg, "did not find expected '-' indicator"), strings.HasSuffix(e.Msg, "did not find expected key"):
		e.Msg += " (check this line's indentation)"
	case strings.HasSuffix(e.Msg, "found character that cannot start any token") && e.Line > 0 && tabIndented(src, e.Line):
		// QA: a tab said nothing of the tab.
		e.Msg += " (a tab in the indentation: YAML indents with spaces)"
	}
	return e
}

// tabIndented reports whether line n (from 1) of src has a tab in its
// leading blanks.
func tabIndented(src []byte, n int) bool {
	lines := strings.Split(string(src), "\n")
	if n > len(lines) {
		return false
	}
	lead := lines[n-1][:len(lines[n-1])-len(strings.TrimLeft(lines[n-1], " \t"))]
	return strings.Contains(lead, "\t")
}

// unknownAnchorRe is the YAML library's error for an alias of no anchor.
var unknownAnchorRe = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// aliasAt is the line and column (1-based, in bytes) of the alias *name
// that fails src with the YAML error msg: on the last line of the
// shortest prefix of src, in whole lines, that fails with msg (a binary
// search, as problemLine's); 0, 0 if none does.
func aliasAt(src []byte, msg, name string) (line, col int) {
	ends := lineEnds(src)
	n := sort.Search(len(ends), func(i int) bool {
		err := yamlSyntax(src[:ends[i]])
		return err != nil && err.Error() == msg
	})
	if n >= len(ends) {
		return 0, 0
	}
	start := 0
	if n > 0 {
		start = ends[n-1]
	}
	if i := bytes.Index(src[start:ends[n]], []byte("*"+name)); i >= 0 {
		col = i + 1
	}
	return n + 1, col
}

// lineEnds is the end of each line of src, its newline included (the
// last line's end is src's, with or without a newline).
func lineEnds(src []byte) []int {
	var ends []int
	for i, c := range src {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] < len(src) {
		ends = append(ends, len(src))
	}
	return ends
}

// controlChar is the line and column (1-based, in bytes) of the first
// control character of src that YAML does not allow (all below a space but
// tab, newline and carriage return, and DEL), or 0, 0.
func controlChar(src []byte) (line, col int) {
	line, start := 1, 0
	for i, c := range src {
		switch {
		case c == '\n':
			line, start = line+1, i+1
		case c < 0x20 && c != '\t' && c != '\r', c == 0x7f:
			return line, i - start + 1
		}
	}
	return 0, 0
}

// problemLine returns the line of the YAML syntax error whose message is msg
// in src, or 0. The YAML library's message names the line where the
// construct it was parsing began (its context mark; its problem mark is
// not exported): for a key indented as if it belonged to the list above
// it, the line of that list's key, lines before the mistake. The problem
// is on the last line of the shortest prefix of src, in whole lines, that
// fails to parse; it is kept only if that prefix fails with the same
// message (a prefix cut inside a multi-line flow mapping fails otherwise).
// A binary search: about log2(lines) parses.
func problemLine(src []byte, msg string) int {
	ends := lineEnds(src)
	n := sort.Search(len(ends), func(i int) bool { return yamlSyntax(src[:ends[i]]) != nil }) + 1
	if n > len(ends) {
		return 0
	}
	m := yamlLineRe.FindStringSubmatch(yamlSyntax(src[:ends[n-1]]).Error())
	if m == nil || m[2] != msg {
		return 0
	}
	return n
}

// yamlSyntax parses every YAML document of src and returns the first
// syntax error, or nil.
func yamlSyntax(src []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// loader holds the state of one Parse: the errors found so far and the
// counters behind the limits.
type loader struct {
	file         string
	errs         []*LoadError
	omitted      int
	opCount      int // operations decoded so far, for MaxOps
	maxOps       int // MaxOps, or MaxModelOps for a model giltrace wrote
	maxFunctions int // MaxFunctions, or MaxModelFunctions for a model
	// MaxDuration and MaxThreadTime, or MaxModelDuration and
	// MaxModelThreadTime for a model.
	maxDuration, maxThreadTime time.Duration
	opsFull                    bool            // MaxOps was hit: stop decoding operations
	runs                       []*yaml.Node    // the run: value of each decoded thread group
	locks                      map[string]bool // guest lock names seen, for MaxLocks
}

// errorf records an error at n's position.
func (l *loader) errorf(n *yaml.Node, field, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	l.errorAt(line, col, field, format, args...)
}

// errorAt records an error at a line and column.
func (l *loader) errorAt(line, col int, field, format string, args ...any) {
	if len(l.errs) >= maxCollectedErrors {
		l.omitted++
		return
	}
	l.errs = append(l.errs, &LoadError{File: l.file, Line: line, Col: col, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// result returns the errors found: one *LoadError alone, several as *LoadErrors.
func (l *loader) result() error {
	sortLoadErrors(l.errs)
	errs, omitted := l.errs, l.omitted
	if len(errs) > maxLoadErrors {
		errs, omitted = errs[:maxLoadErrors], omitted+len(errs)-maxLoadErrors
	}
	if len(errs) == 1 && omitted == 0 {
		return errs[0]
	}
	return &LoadErrors{Errs: errs, Omitted: omitted}
}

// workload decodes the top-level mapping.
func (l *loader) workload(root *yaml.Node) *Workload {
	w := &Workload{
		GIL:       GILConfig{Mode: DefaultGILMode, SwitchInterval: DefaultSwitchInterval, CheckInterval: DefaultCheckInterval},
		Processes: DefaultProcesses,
		Seed:      DefaultSeed,
		Functions: map[string]*Function{},
	}
	m, ok := l.mapping(root, "", "the workload", formatKeys[""])
	if !ok {
		return w
	}
	if n := m.value("version"); n != nil {
		// Any positive version parses, so that one this giltrace does not
		// read is named as such (QA: "version: 2 exceeds the limit of 1").
		if v, ok := l.integer(n, "version", 1, math.MaxInt64); ok && v != FormatVersion {
			l.errorf(n, "version", "unsupported format version %d; this giltrace reads version %d", v, FormatVersion)
		}
	}
	if n := m.require(l, "name", "a workload name"); n != nil {
		w.Name, _ = l.fileName(n, "name")
	}
	if n := m.value("description"); n != nil {
		w.Description, _ = l.str(n, "description", "a text")
	}
	if n := m.value("gil"); n != nil {
		w.GIL = l.gil(n)
	}
	if n := m.value("processes"); n != nil {
		if v, ok := l.integer(n, "processes", 1, MaxProcesses); ok {
			w.Processes = int(v)
		}
	}
	if n := m.value("seed"); n != nil {
		w.Seed, _ = l.integer(n, "seed", -1<<63, 1<<63-1)
	}
	if n := m.value("clock"); n != nil {
		w.Clock = l.clock(n)
	}
	if n := m.value("cores"); n != nil {
		// Simulated cores need virtual time: the file's clock: or
		// record --clock virtual (vm.Run checks it, once both are known).
		if v, ok := l.integer(n, "cores", 1, MaxCores); ok {
			w.Cores, w.CoresLine = int(v), n.Line
		}
	}
	if n := m.require(l, "functions", "a mapping of function names to lists of operations"); n != nil {
		w.Functions = l.functions(n)
	}
	if n := m.require(l, "threads", "a list of thread groups"); n != nil {
		w.Threads = l.threads(n, w.Functions, max(w.Processes, 1))
		l.checkThreadTotal(n, m.value("processes"), w)
	}
	l.checkCalls(w)
	l.perProcess(w, (*loader).checkJoins)
	l.perProcess(w, (*loader).checkStarts)
	if len(l.errs) == 0 {
		l.checkCost(w)
	}
	return w
}

// clock decodes clock:.
func (l *loader) clock(n *yaml.Node) ClockMode {
	s, ok := l.str(n, "clock", "one of real, virtual")
	if !ok {
		return ""
	}
	if m := ClockMode(s); m.Valid() {
		return m
	}
	names := make([]string, len(ClockModes))
	for i, m := range ClockModes {
		names[i] = string(m)
	}
	if s == "simulated" || s == "sim" || s == "deterministic" {
		l.errorf(n, "clock", "unknown clock %q (did you mean \"virtual\"? it simulates the run)", s)
		return ""
	}
	l.errorf(n, "clock", "unknown clock %q%s; expected one of real, virtual", s, didYouMean(s, names))
	return ""
}

// gil decodes the gil: section. A setting for another mode than the file's
// is an error: it would be silently ignored.
func (l *loader) gil(n *yaml.Node) GILConfig {
	g := GILConfig{Mode: DefaultGILMode, SwitchInterval: DefaultSwitchInterval, CheckInterval: DefaultCheckInterval}
	m, ok := l.mapping(n, "gil", "the GIL settings", formatKeys["gil"])
	if !ok {
		return g
	}
	badMode := false // gil.mode is there and wrong (reported)
	if v := m.value("mode"); v != nil {
		badMode = true
		if s, ok := l.str(v, "gil.mode", "one of cpython, legacy, none"); ok {
			switch {
			case tracer.GILMode(s).Valid():
				g.Mode, badMode = tracer.GILMode(s), false
			case s == "free-threaded" || s == "free_threaded" || s == "nogil" || s == "off":
				l.errorf(v, "gil.mode", "unknown mode %q (did you mean \"none\"? it is free-threading, PEP 703)", s)
			default:
				l.errorf(v, "gil.mode", "unknown mode %q%s; expected one of cpython, legacy, none", s, didYouMean(s, gilModes))
			}
		}
	}
	if v := m.value("switch_interval"); v != nil {
		if d, ok := l.duration(v, "gil.switch_interval", MinSwitchInterval); ok {
			if why := WholeMicroseconds(d); why != "" {
				l.errorf(v, "gil.switch_interval", "%s", why)
			} else {
				g.SwitchInterval = d
			}
		}
		// Against a mode that is itself wrong (reported above), no more.
		if g.Mode != tracer.GILCPython && !badMode {
			hint := "legacy mode uses check_interval"
			if g.Mode == tracer.GILNone {
				hint = "mode none has no GIL to switch"
			}
			l.errorf(m.key("switch_interval"), "gil.switch_interval", "applies only to mode cpython, but mode is %s; remove it (%s)", g.Mode, hint)
		}
	}
	if v := m.value("check_interval"); v != nil {
		if c, ok := l.integer(v, "gil.check_interval", 1, MaxCheckInterval); ok {
			g.CheckInterval = int(c)
		}
		if g.Mode != tracer.GILLegacy && !badMode {
			hint := "cpython mode uses switch_interval"
			if g.Mode == tracer.GILNone {
				hint = "mode none has no GIL to switch"
			}
			l.errorf(m.key("check_interval"), "gil.check_interval", "applies only to mode legacy, but mode is %s; remove it (%s)", g.Mode, hint)
		}
	}
	return g
}

// threads decodes the threads: list.
func (l *loader) threads(n *yaml.Node, funcs map[string]*Function, procs int) []ThreadGroup {
	seq, ok := l.sequence(n, "threads", "a list of thread groups")
	if !ok {
		return nil
	}
	if len(seq) == 0 {
		l.errorf(n, "threads", "expected at least one thread group, got an empty list")
		return nil
	}
	if len(seq) > MaxThreads {
		l.errorf(n, "threads", "%d thread groups exceed the limit of %d threads", len(seq), MaxThreads)
		return nil
	}
	groups := make([]ThreadGroup, 0, len(seq))
	names := map[string]string{} // thread name -> the group path that made it
	total := 0
	for i, item := range seq {
		path := fmt.Sprintf("threads[%d]", i)
		g, run, ok := l.threadGroup(item, path, funcs)
		if !ok {
			continue
		}
		l.runs = append(l.runs, run)
		if g.Process > procs {
			l.errorf(resolveAlias(item), path+".process", "process %d, but the workload runs %s (processes: %d); a group's process is 1 ... processes, or leave process out to run the group in every process", g.Process, counted(procs, "process"), procs)
			g.Process = 0
			// Not named again as if it ran in every process: its names
			// would collide with each process's own (QA: a second error,
			// "thread name MainThread is also given by threads[0]").
			total += g.Count
			groups = append(groups, g)
			continue
		}
		if total += g.Count; total <= MaxThreads { // past it, checkThreadTotal reports
			l.checkThreadNames(item, path, g, procs, names)
		}
		groups = append(groups, g)
	}
	for pid := 1; pid <= procs && len(groups) > 0; pid++ {
		if !slices.ContainsFunc(groups, func(g ThreadGroup) bool { return g.InProcess(pid) && !g.Daemon }) {
			where := "the workload"
			if procs > 1 {
				where = fmt.Sprintf("process %d", pid)
			}
			if !slices.ContainsFunc(groups, func(g ThreadGroup) bool { return g.InProcess(pid) }) {
				// Not "every thread is a daemon" (QA: said of a model's
				// process that had no thread at all).
				l.errorf(n, "threads", "%s has no thread (no group without process:, and none with process: %d), so it would run nothing; give it one, or run fewer processes", where, pid)
				break
			}
			l.errorf(n, "threads", "every thread of %s is a daemon, so it would exit before any ran; give it a thread that is not (CPython's main thread never is)", where)
			break
		}
	}
	return groups
}

// threadGroup decodes one entry of threads:.
// It returns the run: value's node too, for later errors about the function.
func (l *loader) threadGroup(n *yaml.Node, path string, funcs map[string]*Function) (ThreadGroup, *yaml.Node, bool) {
	g := ThreadGroup{Count: 1, Repeat: 1}
	m, ok := l.mapping(n, path, "a thread group", formatKeys["threads"])
	if !ok {
		return g, nil, false
	}
	g.Line = resolveAlias(n).Line
	if v := m.require(l, "run", "the name of a function"); v != nil {
		if s, ok := l.str(v, path+".run", "the name of a function"); ok {
			g.Run = s
			if _, found := funcs[s]; !found && len(funcs) > 0 {
				l.errorf(v, path+".run", "unknown function %q%s", s, didYouMean(s, sortedFuncNames(funcs)))
			}
		}
	}
	g.Name = g.Run
	if v := m.value("name"); v != nil {
		g.Name, _ = l.name(v, path+".name")
	}
	if v := m.value("count"); v != nil {
		if c, ok := l.integer(v, path+".count", 1, MaxThreads); ok {
			g.Count = int(c)
		}
	}
	if v := m.value("repeat"); v != nil {
		if r, ok := l.integer(v, path+".repeat", 1, MaxTimes); ok {
			g.Repeat = int(r)
		}
	}
	if v := m.value("start_after"); v != nil {
		g.StartAfter, _ = l.duration(v, path+".start_after", 0)
	}
	if v := m.value("process"); v != nil {
		if p, ok := l.integer(v, path+".process", 1, MaxProcesses); ok {
			g.Process = int(p)
		}
	}
	if v := m.value("daemon"); v != nil {
		g.Daemon, _ = l.boolean(v, path+".daemon")
	}
	return g, m.value("run"), g.Name != "" && g.Run != ""
}

// checkThreadNames reports thread names that collide in a process, after
// expansion of count > 1 into name-1 ... name-N. Threads of different
// processes may share a name (each pool worker's MainThread).
func (l *loader) checkThreadNames(n *yaml.Node, path string, g ThreadGroup, procs int, seen map[string]string) {
	for i := 1; i <= g.Count; i++ {
		tn := g.Name
		if g.Count > 1 {
			tn = g.Name + "-" + strconv.Itoa(i)
		}
		for pid := 1; pid <= procs; pid++ {
			if !g.InProcess(pid) {
				continue
			}
			key := strconv.Itoa(pid) + "\x00" + tn
			if other, dup := seen[key]; dup {
				l.errorf(n, path+".name", "thread name %q is also given by %s; give each group its own name", tn, other)
				return
			}
			seen[key] = path
		}
	}
}

// unknownGroup begins the error of a join or start naming no thread group.
const unknownGroup = "unknown thread group"

// counted is n and word, plural unless n is 1: "1 thread", "2 threads",
// "3 processes" (internal/textfmt.Plural, which this package does not
// import: it depends on tracer alone).
func counted(n int, word string) string {
	switch {
	case n == 1:
		return "1 " + word
	case strings.HasSuffix(word, "s"):
		return strconv.Itoa(n) + " " + word + "es"
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// perProcess runs check, a check of the joins or the starts, on w or, when
// some thread groups belong to one process (process:), on each process's
// view of w: the groups with threads in it. Joins and starts act within a
// process (each process starts and joins its own threads), so a start that
// only another process makes, or a join cycle within one process, is an
// error there. A name unknown in one process's view is not: the check of
// the whole workload reports names that no process knows. An error found
// in several processes is reported once.
func (l *loader) perProcess(w *Workload, check func(*loader, *Workload)) {
	pinned := false
	for _, g := range w.Threads {
		pinned = pinned || g.Process != 0
	}
	if !pinned {
		check(l, w)
		return
	}
	type at struct {
		line, col  int
		field, msg string
	}
	seen := map[at]bool{}
	keep := func(sub *loader, unknown bool) {
		for _, e := range sub.errs {
			k := at{e.Line, e.Col, e.Field, e.Msg}
			if strings.HasPrefix(e.Msg, unknownGroup) != unknown || seen[k] {
				continue
			}
			seen[k] = true
			l.errorAt(e.Line, e.Col, e.Field, "%s", e.Msg)
		}
	}
	all := &loader{file: l.file}
	check(all, w)
	keep(all, true) // names that no process knows
	for pid := 1; pid <= max(w.Processes, 1); pid++ {
		view := *w
		view.Threads = nil
		for _, g := range w.Threads {
			if g.InProcess(pid) {
				view.Threads = append(view.Threads, g)
			}
		}
		sub := &loader{file: l.file}
		check(sub, &view)
		keep(sub, false)
	}
}

// checkThreadTotal enforces MaxThreads over all groups and processes.
func (l *loader) checkThreadTotal(threads, processes *yaml.Node, w *Workload) {
	total, pinned := 0, 0 // threads per process; threads of one process only
	for _, g := range w.Threads {
		if g.Process != 0 {
			pinned += g.Count
		} else {
			total += g.Count
		}
	}
	if total*max(w.Processes, 1)+pinned <= MaxThreads {
		return
	}
	if pinned > 0 {
		sum := counted(pinned, "thread") + " of one process"
		if total > 0 {
			sum = fmt.Sprintf("%s in every process x %s + %s = %d threads", counted(total, "thread"), counted(max(w.Processes, 1), "process"), sum, total*max(w.Processes, 1)+pinned)
		}
		l.errorf(threads, "threads", "%s exceed the limit of %d", sum, MaxThreads)
		return
	}
	if w.Processes > 1 {
		l.errorf(processes, "processes", "%d threads per process x %d processes = %d threads exceed the limit of %d", total, w.Processes, total*w.Processes, MaxThreads)
		return
	}
	l.errorf(threads, "threads", "%d threads in total exceed the limit of %d", total, MaxThreads)
}

// checkUTF8 locates the first byte of src that is not UTF-8: the YAML
// parser only says "invalid trailing UTF-8 octet", nowhere.
func checkUTF8(name string, src []byte) error {
	if utf8.Valid(src) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			return &LoadError{File: name, Line: line, Col: col,
				Msg: fmt.Sprintf("invalid UTF-8 at byte %d (0x%02X): a workload file must be UTF-8 text", i, src[i])}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += n
	}
	return nil
}
