package chrome

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// layout maps the trace's processes, threads and locks to Chrome tracks,
// and holds the JSON fragments that every event of a track or a lock
// repeats, built once.
type layout struct {
	s *tracer.Spans
	t *tracer.Trace

	threadTrack []string // per thread: `"pid":P,"tid":T`
	threadSort  []int    // per thread: its thread_sort_index
	gilTrack    []string // per process: the GIL track's `"pid":P,"tid":T`, or ""
	procTrack   []string // per process: the track its process metadata names, or ""
	flowName    []string // per lock: `"cat":C,"name":N` of its handoff arrows
	frames      []string // per frame: `"name":F,"args":{...}`, built lazily

	nextCall int     // cursor into s.Calls, which are by thread
	open     []int64 // ends of the calls open on the thread being written
}

// newLayout assigns the tracks, numbered by tracer.TrackTIDs: per process, its
// GIL track first, then its threads in trace order.
func newLayout(s *tracer.Spans) (*layout, error) {
	t := s.Trace
	if err := checkPIDs(t); err != nil {
		return nil, err
	}
	l := &layout{
		s:           s,
		t:           t,
		threadTrack: make([]string, len(t.Threads)),
		threadSort:  make([]int, len(t.Threads)),
		gilTrack:    make([]string, len(t.Procs)),
		procTrack:   make([]string, len(t.Procs)),
		flowName:    make([]string, len(t.Locks)),
		frames:      make([]string, len(t.Frames)),
	}
	byProc := make([][]tracer.ThreadID, len(t.Procs))
	for i, th := range t.Threads {
		if int(th.Proc) >= len(t.Procs) {
			return nil, fmt.Errorf("thread %d (%q) belongs to process %d of %d", i, th.Name, th.Proc, len(t.Procs))
		}
		byProc[th.Proc] = append(byProc[th.Proc], tracer.ThreadID(i))
	}
	tids, gilTIDs := tracer.TrackTIDs(t)
	for p, pr := range t.Procs {
		if gilTIDs[p] != 0 {
			l.gilTrack[p] = track(pr.PID, gilTIDs[p])
			l.procTrack[p] = l.gilTrack[p]
		}
		for i, id := range byProc[p] {
			l.threadTrack[id] = track(pr.PID, tids[id])
			l.threadSort[id] = i + 1 // after the GIL track's 0
			if l.procTrack[p] == "" {
				l.procTrack[p] = l.threadTrack[id]
			}
		}
	}
	for i, lk := range t.Locks {
		cat := "lock"
		if lk.GIL {
			cat = "gil"
		}
		b := append([]byte(`"cat":"`), cat...)
		b = append(b, `","name":`...)
		l.flowName[i] = string(appendString(b, lk.Name+" handoff"))
	}
	return l, nil
}

func checkPIDs(t *tracer.Trace) error {
	seen := make(map[int]int, len(t.Procs))
	for i, p := range t.Procs {
		if p.PID < 1 {
			return fmt.Errorf("process %d (%q) has pid %d, want >= 1", i, p.Name, p.PID)
		}
		if j, dup := seen[p.PID]; dup {
			return fmt.Errorf("processes %d and %d share pid %d", j, i, p.PID)
		}
		seen[p.PID] = i
	}
	return nil
}

func track(pid, tid int) string {
	return `"pid":` + strconv.Itoa(pid) + `,"tid":` + strconv.Itoa(tid)
}

// frame returns the name and args fragment of frame f.
func (l *layout) frame(f tracer.FrameID) string {
	if int(f) >= len(l.frames) {
		return `"name":"?"`
	}
	if l.frames[f] == "" {
		fr := l.t.Frames[f]
		b := []byte(`"name":`)
		b = appendString(b, fr.Func)
		b = append(b, `,"args":{"file":`...)
		b = appendString(b, fr.File)
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(fr.Line), 10)
		l.frames[f] = string(append(b, '}'))
	}
	return l.frames[f]
}

// threadName is the name of thread id, or "?" for an unknown thread.
func (l *layout) threadName(id tracer.ThreadID) string {
	if int(id) < len(l.t.Threads) {
		return l.t.Threads[id].Name
	}
	return "?"
}

// writeMetadataEvents names and orders the processes and their tracks.
func (l *layout) writeMetadataEvents(o *out) {
	for p, pr := range l.t.Procs {
		if l.procTrack[p] == "" {
			continue // no track: nothing to name
		}
		l.metaEvent(o, "process_name", l.procTrack[p], "name", pr.Name, 0)
		l.metaEvent(o, "process_sort_index", l.procTrack[p], "sort_index", "", p)
		if l.gilTrack[p] != "" {
			l.metaEvent(o, "thread_name", l.gilTrack[p], "name", "GIL", 0)
			l.metaEvent(o, "thread_sort_index", l.gilTrack[p], "sort_index", "", 0)
		}
	}
	for id, th := range l.t.Threads {
		l.metaEvent(o, "thread_name", l.threadTrack[id], "name", th.Name, 0)
		l.metaEvent(o, "thread_sort_index", l.threadTrack[id], "sort_index", "", l.threadSort[id])
	}
}

// writeEmptyMarker writes, for a trace in which no thread ever ran, one
// global instant at time 0 saying so: Perfetto's importer rejects a trace
// without events other than metadata, and an empty time line needs an
// explanation anyway.
func (l *layout) writeEmptyMarker(o *out) {
	if len(l.s.States) > 0 || len(l.s.Holds) > 0 {
		return
	}
	pid := 1
	if len(l.t.Procs) > 0 {
		pid = l.t.Procs[0].PID
	}
	o.begin()
	b := append(o.b, `"ph":"i","s":"g","cat":"run","name":"no thread ran","pid":`...)
	b = strconv.AppendInt(b, int64(pid), 10)
	o.b = append(b, `,"ts":0.000`...)
	o.end()
}

// metaEvent writes an "M" event whose single argument key is str, or the
// integer n when str is "".
func (l *layout) metaEvent(o *out, name, track, key, str string, n int) {
	o.begin()
	b := append(o.b, `"ph":"M","name":"`...)
	b = append(b, name...)
	b = append(b, `",`...)
	b = append(b, track...)
	b = append(b, `,"args":{"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	if str != "" {
		b = appendString(b, str)
	} else {
		b = strconv.AppendInt(b, int64(n), 10)
	}
	o.b = append(b, '}')
	o.end()
}

// appendMeta appends the run's metadata as a flat JSON object, keys in a
// fixed order and Extra's sorted, every value a string, number or bool (the
// types Perfetto's metadata table keeps).
func appendMeta(b []byte, t *tracer.Trace, warnings []string) []byte {
	m := t.Meta
	b = append(b, '{')
	str := func(k, v string) {
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, v)
		b = append(b, ',')
	}
	num := func(k string, v int64) {
		b = appendString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, v, 10)
		b = append(b, ',')
	}
	str("workload", m.Workload)
	str("workload_file", m.WorkloadFile)
	str("gil_mode", string(m.GILMode))
	num("switch_interval_ns", int64(m.SwitchInterval))
	num("check_interval", int64(m.CheckInterval))
	num("cores", int64(m.Cores))
	num("gomaxprocs", int64(m.GOMAXPROCS))
	b = append(b, `"loops_per_ms":`...)
	b = appendFloat(b, m.LoopsPerMS)
	b = append(b, ',')
	if !m.Start.IsZero() {
		str("start", m.Start.UTC().Format(time.RFC3339Nano))
	}
	str("version", m.Version)
	num("duration_ns", t.Duration())
	num("dropped_events", int64(min(t.Dropped, 1<<63-1)))
	b = append(b, `"truncated":`...)
	b = strconv.AppendBool(b, t.Truncated)
	if t.Salvaged != "" { // read from a damaged file: the damage (issue 13)
		b = append(b, ',')
		b = appendString(b, "salvaged")
		b = append(b, ':')
		b = appendString(b, t.Salvaged)
	}
	keys := make([]string, 0, len(m.Extra))
	for k := range m.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = appendString(b, "extra."+k)
		b = append(b, ':')
		b = appendString(b, m.Extra[k])
	}
	if m.WorkloadSource != "" {
		b = append(b, ',')
		b = appendString(b, "workload_source")
		b = append(b, ':')
		b = appendString(b, m.WorkloadSource)
	}
	if len(warnings) > 0 {
		b = append(b, ',')
		b = appendString(b, "warnings")
		b = append(b, ':')
		b = appendString(b, strings.Join(warnings, "\n"))
	}
	return append(b, '}')
}

// writeWarnings writes each warning of the run (exporters/report.Warnings: a busy
// machine, a real program's tracing cost) as a global instant at time 0,
// named after its first words and with its text as argument, where
// Perfetto and chrome://tracing show it above every track.
func (l *layout) writeWarnings(o *out, warnings []string) {
	pid := 1
	if len(l.t.Procs) > 0 {
		pid = l.t.Procs[0].PID
	}
	for _, w := range warnings {
		name, _, _ := strings.Cut(w, ":")
		o.begin()
		b := append(o.b, `"ph":"i","s":"g","cat":"warning","name":`...)
		b = appendString(b, "Warning: "+name)
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(pid), 10)
		b = append(b, `,"ts":0.000,"args":{"text":`...)
		b = appendString(b, w)
		o.b = append(b, '}')
		o.end()
	}
}
