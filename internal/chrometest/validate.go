// Package chrometest checks Chrome trace-event JSON against the rules of
// Perfetto's JSON importer (google/perfetto,
// src/trace_processor/importers/json and the slice, flow and sorter code it
// calls), which cannot be run here.
//
// The rules, each with what Perfetto does when it is broken:
//
//   - The document is JSON and starts with `{"` or `[{"` (the importer's
//     sniffer); an object holds the events in "traceEvents"; "metadata",
//     if present, is an object.
//   - There is at least one event other than metadata ("M").
//   - Every event has a known phase "ph"; pid is an integer >= 1 (strings
//     are a hack, and 0 is not a process); tid, where the event is on a
//     thread, is an integer >= 1 (a tid of 0 is replaced by the pid, which
//     merges the thread into the process's main thread).
//   - A tid belongs to one process only, and a tid equal to a pid belongs to
//     that pid's process (Perfetto's tids are system-wide).
//   - Timestamps are numbers in microseconds, relative to the run: none is
//     negative (the sorter drops them) and the first is within an hour of 0
//     (not an absolute clock). "X" has a numeric "dur" >= 0.
//   - Slices on one track (pid, tid) nest: the events are put in Perfetto's
//     order (by ts; at equal ts "E" first, then "X" longest first, then the
//     rest, in file order), and each slice must fit inside the open slice
//     it starts in; slices are half-open, a slice that ends where the next
//     starts is closed first. Partial overlaps are errors (Perfetto spills
//     or drops them). "E" closes the innermost "B", with the same name if
//     it has one; every "B" is closed.
//   - Flows: every "s" has a unique id (across the trace), and exactly one
//     "f" with that id, not earlier. "s", and "f" with "bp":"e", bind to the
//     slice on top of their track's stack when they are read, which must
//     contain their ts (else the arrow is lost or drawn to the wrong slice).
//   - Counters ("C") have a name and a non-empty args object of numbers.
//   - Metadata events are process_name, process_labels,
//     process_sort_index, thread_name or thread_sort_index, with the
//     argument each needs (a non-empty "name", an integer "sort_index"),
//     and a thread is not given two different names.
//   - Instants ("i", "I") have scope "g", "p", "t" or none.
package chrometest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// maxStart is how late, in microseconds, the first timestamp may be: an
// hour. A trace with timestamps relative to its start begins near 0; an
// absolute monotonic or epoch clock is far beyond.
const maxStart = 3600e6

// Track is a thread track: a (pid, tid) pair.
type Track struct{ PID, TID int }

// Thread is what the metadata says about a tid.
type Thread struct {
	PID       int
	Name      string
	SortIndex int
}

// Slice is a slice on a track, after nesting: times in nanoseconds, as
// Perfetto converts them.
type Slice struct {
	Name, Cat  string
	Start, Dur int64
	Depth      int // 0 at the top of the track
}

// Flow is an arrow from an "s" to its "f".
type Flow struct {
	ID       string
	Cat      string
	Name     string
	From, To Track
	// FromSlice and ToSlice are the names of the slices the ends bind to.
	FromSlice, ToSlice string
}

// Summary is what a valid trace holds, for tests to assert on.
type Summary struct {
	Events    int            // every event, metadata included
	Phases    map[string]int // events per phase
	Processes map[int]string // pid -> process_name
	Threads   map[int]Thread // tid -> thread metadata (for every tid seen)
	Slices    map[Track][]Slice
	Flows     []Flow
	Counters  map[string][]float64 // "pid/name/key" -> values in file order
	Metadata  map[string]any       // the top-level "metadata" object
}

// TID returns the tid of the thread named name in process pid, or 0.
func (s *Summary) TID(pid int, name string) int {
	best := 0
	for tid, th := range s.Threads {
		if th.PID == pid && th.Name == name && (best == 0 || tid < best) {
			best = tid
		}
	}
	return best
}

// event is one parsed trace event.
type event struct {
	idx      int // position in the file
	ph       byte
	name     string
	cat      string
	pid, tid int
	hasTID   bool
	ts, dur  int64 // nanoseconds
	id       string
	bp       string
	scope    string
	args     map[string]json.RawMessage
}

// Validate reads a whole trace from r and checks it; the error lists every
// rule broken (up to a limit), each with the event it concerns.
func Validate(r io.Reader) (*Summary, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading trace: %w", err)
	}
	v := &validator{s: &Summary{
		Phases:    map[string]int{},
		Processes: map[int]string{},
		Threads:   map[int]Thread{},
		Slices:    map[Track][]Slice{},
		Counters:  map[string][]float64{},
	}}
	raw, err := v.document(data)
	if err != nil {
		return nil, err
	}
	for i, m := range raw {
		if e, ok := v.parse(i, m); ok {
			v.events = append(v.events, e)
		}
		if len(v.errs) >= maxErrors {
			break
		}
	}
	v.s.Events = len(raw)
	v.checkThreads()
	v.checkTimes()
	v.checkTracks()
	if len(v.errs) > 0 {
		return v.s, errors.Join(v.errs...)
	}
	return v.s, nil
}

// maxErrors bounds the errors reported: enough to see a pattern.
const maxErrors = 20

type validator struct {
	s      *Summary
	events []event
	errs   []error
}

func (v *validator) errorf(format string, args ...any) {
	if len(v.errs) < maxErrors {
		v.errs = append(v.errs, fmt.Errorf(format, args...))
	}
}

func (v *validator) eventErr(e *event, format string, args ...any) {
	v.errorf("event %d (ph %q, name %q): %s", e.idx, string(e.ph), e.name, fmt.Sprintf(format, args...))
}

// document checks the frame and returns the raw events.
func (v *validator) document(data []byte) ([]map[string]json.RawMessage, error) {
	head := bytes.Join(bytes.Fields(data[:min(len(data), 64)]), nil)
	if !bytes.HasPrefix(head, []byte(`{"`)) && !bytes.HasPrefix(head, []byte(`[{"`)) {
		return nil, errors.New(`trace does not start with {" or [{" (Perfetto's JSON sniffer)`)
	}
	if !json.Valid(data) {
		var x any
		err := json.Unmarshal(data, &x)
		return nil, fmt.Errorf("trace is not valid JSON: %w", err)
	}
	var events []map[string]json.RawMessage
	if data[bytes.IndexAny(data, "{[")] == '[' {
		if err := json.Unmarshal(data, &events); err != nil {
			return nil, fmt.Errorf("trace events: %w", err)
		}
	} else {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, fmt.Errorf("trace object: %w", err)
		}
		te, ok := top["traceEvents"]
		if !ok {
			return nil, errors.New(`trace object has no "traceEvents"`)
		}
		if err := json.Unmarshal(te, &events); err != nil {
			return nil, fmt.Errorf(`"traceEvents" is not an array of objects: %w`, err)
		}
		if md, ok := top["metadata"]; ok {
			if err := json.Unmarshal(md, &v.s.Metadata); err != nil || v.s.Metadata == nil {
				return nil, errors.New(`"metadata" is not an object`)
			}
		}
		if u, ok := top["displayTimeUnit"]; ok {
			var unit string
			if json.Unmarshal(u, &unit) != nil || (unit != "ms" && unit != "ns") {
				return nil, errors.New(`"displayTimeUnit" is not "ms" or "ns"`)
			}
		}
	}
	nonMeta := 0
	for _, e := range events {
		if string(e["ph"]) != `"M"` {
			nonMeta++
		}
	}
	if nonMeta == 0 {
		return nil, errors.New("trace has no events other than metadata")
	}
	return events, nil
}

// phases Perfetto's JSON importer handles.
const knownPhases = "BEXiICMstfbenRT"

// parse reads and checks one event; ok is false if it is too broken to use.
func (v *validator) parse(i int, m map[string]json.RawMessage) (event, bool) {
	e := event{idx: i}
	var ph string
	if err := json.Unmarshal(m["ph"], &ph); err != nil || len(ph) != 1 {
		v.errorf("event %d: ph missing or not a one-letter string", i)
		return e, false
	}
	e.ph = ph[0]
	v.s.Phases[ph]++
	if !bytes.ContainsRune([]byte(knownPhases), rune(e.ph)) {
		v.eventErr(&e, "unknown phase")
		return e, false
	}
	e.name, _ = v.str(&e, m, "name")
	e.cat, _ = v.str(&e, m, "cat")
	pid, ok := v.integer(&e, m, "pid")
	if !ok || pid < 1 {
		v.eventErr(&e, "pid must be an integer >= 1")
		return e, false
	}
	e.pid = pid
	if _, present := m["tid"]; present {
		tid, ok := v.integer(&e, m, "tid")
		if !ok || tid < 1 {
			v.eventErr(&e, "tid must be an integer >= 1 (0 merges into the process's main thread)")
			return e, false
		}
		e.tid, e.hasTID = tid, true
	}
	e.scope, _ = v.str(&e, m, "s")
	e.bp, _ = v.str(&e, m, "bp")
	if raw, ok := m["args"]; ok {
		if err := json.Unmarshal(raw, &e.args); err != nil || e.args == nil {
			v.eventErr(&e, "args is not an object")
			return e, false
		}
	}
	if e.ph != 'M' {
		ts, ok := v.micros(&e, m, "ts")
		if !ok {
			v.eventErr(&e, "ts missing or not a number")
			return e, false
		}
		e.ts = ts
	}
	if e.onThread() && !e.hasTID {
		v.eventErr(&e, "no tid on a thread event")
		return e, false
	}
	if e.hasTID {
		v.thread(e.tid, e.pid, &e)
	}
	return e, v.phase(&e, m)
}

// onThread reports whether the event needs a thread.
func (e *event) onThread() bool {
	switch e.ph {
	case 'B', 'E', 'X', 's', 't', 'f', 'T':
		return true
	case 'i', 'I':
		return e.scope == "" || e.scope == "t"
	case 'M':
		return e.name == "thread_name" || e.name == "thread_sort_index"
	}
	return false
}

// phase checks what each phase needs.
func (v *validator) phase(e *event, m map[string]json.RawMessage) bool {
	switch e.ph {
	case 'X':
		d, ok := v.micros(e, m, "dur")
		if !ok || d < 0 {
			v.eventErr(e, "X needs a numeric dur >= 0")
			return false
		}
		e.dur = d
	case 'i', 'I':
		if e.scope != "" && e.scope != "g" && e.scope != "p" && e.scope != "t" {
			v.eventErr(e, "instant scope %q is not g, p or t", e.scope)
			return false
		}
	case 's', 't', 'f':
		id, ok := flowID(m["id"])
		if !ok {
			v.eventErr(e, "flow event needs a numeric or string id")
			return false
		}
		e.id = id
	case 'C':
		return v.counter(e)
	case 'M':
		return v.meta(e)
	}
	return true
}

func flowID(raw json.RawMessage) (string, bool) {
	if n, ok := number(raw); ok {
		if _, err := strconv.ParseUint(string(n), 10, 64); err == nil {
			return string(n), true
		}
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return "str:" + s, true
	}
	return "", false
}

func (v *validator) counter(e *event) bool {
	if e.name == "" {
		v.eventErr(e, "counter has no name")
		return false
	}
	if len(e.args) == 0 {
		v.eventErr(e, "counter has no values in args")
		return false
	}
	keys := make([]string, 0, len(e.args))
	for k := range e.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var x float64
		dec := json.NewDecoder(bytes.NewReader(e.args[k]))
		dec.UseNumber()
		var n any
		if dec.Decode(&n) != nil {
			return false
		}
		num, ok := n.(json.Number)
		if !ok {
			v.eventErr(e, "counter value %q is not a number: %s", k, e.args[k])
			return false
		}
		x, _ = num.Float64()
		key := fmt.Sprintf("%d/%s/%s", e.pid, e.name, k)
		v.s.Counters[key] = append(v.s.Counters[key], x)
	}
	return true
}

func (v *validator) meta(e *event) bool {
	switch e.name {
	case "process_name", "thread_name", "process_labels":
		key := "name"
		if e.name == "process_labels" {
			key = "labels"
		}
		var s string
		if json.Unmarshal(e.args[key], &s) != nil || s == "" {
			v.eventErr(e, "needs a non-empty string args.%s", key)
			return false
		}
		switch e.name {
		case "process_name":
			if old, ok := v.s.Processes[e.pid]; ok && old != s {
				v.eventErr(e, "process %d named %q and %q", e.pid, old, s)
			}
			v.s.Processes[e.pid] = s
		case "thread_name":
			th := v.s.Threads[e.tid]
			if th.Name != "" && th.Name != s {
				v.eventErr(e, "thread %d named %q and %q", e.tid, th.Name, s)
			}
			th.Name = s
			v.s.Threads[e.tid] = th
		}
	case "process_sort_index", "thread_sort_index":
		n, ok := number(e.args["sort_index"])
		if !ok {
			v.eventErr(e, "needs a numeric args.sort_index")
			return false
		}
		i, err := strconv.Atoi(string(n))
		if err != nil {
			v.eventErr(e, "sort_index %s is not an integer", n)
			return false
		}
		if e.name == "thread_sort_index" {
			th := v.s.Threads[e.tid]
			th.SortIndex = i
			v.s.Threads[e.tid] = th
		}
	default:
		v.eventErr(e, "unknown metadata event")
		return false
	}
	return true
}

// thread records that tid belongs to pid.
func (v *validator) thread(tid, pid int, e *event) {
	th, ok := v.s.Threads[tid]
	if ok && th.PID != 0 && th.PID != pid {
		v.eventErr(e, "tid %d is used in processes %d and %d: tids must be unique across the trace", tid, th.PID, pid)
		return
	}
	th.PID = pid
	v.s.Threads[tid] = th
}

// checkThreads checks that a tid equal to a pid is in that pid's process.
func (v *validator) checkThreads() {
	pids := map[int]bool{}
	for _, e := range v.events {
		pids[e.pid] = true
	}
	tids := make([]int, 0, len(v.s.Threads))
	for tid := range v.s.Threads {
		tids = append(tids, tid)
	}
	sort.Ints(tids)
	for _, tid := range tids {
		if th := v.s.Threads[tid]; pids[tid] && th.PID != tid {
			v.errorf("tid %d of process %d is also the pid of another process", tid, th.PID)
		}
	}
}

// checkTimes checks that timestamps are relative microseconds.
func (v *validator) checkTimes() {
	first := int64(math.MaxInt64)
	for i := range v.events {
		e := &v.events[i]
		if e.ph == 'M' {
			continue
		}
		if e.ts < 0 {
			v.eventErr(e, "negative ts %s µs (Perfetto drops it)", micros(e.ts))
		}
		first = min(first, e.ts)
	}
	if first != math.MaxInt64 && first > maxStart*1000 {
		v.errorf("first ts is %s µs: timestamps must be relative to the trace's start", micros(first))
	}
}

func micros(ns int64) string { return strconv.FormatFloat(float64(ns)/1000, 'f', 3, 64) }

// str reads an optional string field.
func (v *validator) str(e *event, m map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := m[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.eventErr(e, "%s is not a string", key)
		return "", false
	}
	return s, true
}

// number reads a JSON number; unlike json.Number's own decoding it
// rejects a number in a string.
func number(raw json.RawMessage) (json.Number, bool) {
	raw = bytes.TrimSpace(raw)
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return n, true
}

// integer reads an integral number field.
func (v *validator) integer(e *event, m map[string]json.RawMessage, key string) (int, bool) {
	n, ok := number(m[key])
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || i > math.MaxUint32 {
		return 0, false
	}
	return int(i), true
}

// micros reads a time field in microseconds and converts it to
// nanoseconds as Perfetto does (llround(v * 1000) unless integral).
func (v *validator) micros(e *event, m map[string]json.RawMessage, key string) (int64, bool) {
	n, ok := number(m[key])
	if !ok {
		return 0, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i * 1000, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	if f == math.Trunc(f) {
		return int64(f) * 1000, true
	}
	return int64(math.Round(f * 1000)), true
}
