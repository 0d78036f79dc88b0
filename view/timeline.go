package view

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/giltrace/giltrace/tracer"
)

// Timeline limits. The page asks for the window it shows at its width in
// pixels; the answer stays proportional to the width, not to the run.
const (
	maxWidth  = 8192 // pixels: wider requests are served at this width
	maxArrows = 500  // handoff arrows in one answer; past it, a count
)

// timeline is what the page's timeline draws, indexed for windows of time:
// each thread's state spans and each process's GIL holds, in time order.
type timeline struct {
	s       *tracer.Spans
	holds   [][]tracer.Hold   // by process: holds of its GIL
	arrows  []tracer.Handoff  // GIL handoffs between two threads, by acquire time
	threads []tracer.ThreadID // lane order: by process, then thread
}

func newTimeline(s *tracer.Spans) *timeline {
	t := s.Trace
	tl := &timeline{s: s, holds: make([][]tracer.Hold, len(t.Procs))}
	for _, h := range s.Holds {
		if l := t.Locks[h.Lock]; l.GIL {
			tl.holds[l.Proc] = append(tl.holds[l.Proc], h)
		}
	}
	for _, h := range s.Handoffs {
		if t.Locks[h.Lock].GIL && h.From != h.To && h.From != tracer.NoThread {
			tl.arrows = append(tl.arrows, h)
		}
	}
	for id := range t.Threads {
		tl.threads = append(tl.threads, tracer.ThreadID(id))
	}
	slices.SortStableFunc(tl.threads, func(a, b tracer.ThreadID) int {
		return int(t.Threads[a].Proc) - int(t.Threads[b].Proc)
	})
	return tl
}

// Segment is a drawn interval: [Start, End) in nanoseconds, a key (a
// state, or the holding thread's index), and how many spans it stands
// for (1 unless decimated; then Key is the one that covered most of it).
type Segment [4]int64

// Lane is a thread's states or a process's GIL holders.
type Lane struct {
	Name    string    `json:"name"`
	Process string    `json:"process"`
	Thread  int       `json:"thread"` // the thread's index, for thread lanes; 0 for GIL lanes
	Kind    string    `json:"kind"`   // "thread" or "gil"
	Segs    []Segment `json:"segs"`
}

// Window is the timeline of [Start, End) at a width: the answer of
// /timeline.json.
type Window struct {
	Start    int64      `json:"start"`
	End      int64      `json:"end"`
	Duration int64      `json:"duration"` // the run's
	States   []string   `json:"states"`   // a thread segment's key indexes this
	Threads  []string   `json:"threads"`  // a GIL segment's key indexes this
	Lanes    []Lane     `json:"lanes"`    // per process: its GIL lane (if it has a GIL), then its threads
	Handoffs [][4]int64 `json:"handoffs"` // released, acquired, from thread, to thread
	Omitted  int        `json:"omitted_handoffs"`
	Spans    int        `json:"spans"` // spans in the window before decimation
}

// window returns the timeline of [start, end) decimated to width pixels:
// spans shorter than a pixel are merged into segments about a pixel long.
func (tl *timeline) window(start, end int64, width int) *Window {
	t := tl.s.Trace
	w := &Window{Start: start, End: end, Duration: t.Duration(), Handoffs: [][4]int64{}}
	for st := range tracer.NumStates {
		w.States = append(w.States, tracer.State(st).String())
	}
	for _, th := range t.Threads {
		w.Threads = append(w.Threads, th.Name)
	}
	px := max(1, (end-start)/int64(width))
	gilDone := map[tracer.ProcID]bool{}
	for _, id := range tl.threads {
		th := t.Threads[id]
		proc := t.Procs[th.Proc].Name
		if !gilDone[th.Proc] && t.Procs[th.Proc].GIL != tracer.NoLock {
			gilDone[th.Proc] = true
			d := decimator{px: px}
			for _, h := range clipHolds(tl.holds[th.Proc], start, end) {
				d.add(max(h.Start, start), min(h.End, end), int64(h.Thread))
				w.Spans++
			}
			w.Lanes = append(w.Lanes, Lane{Name: "GIL", Process: proc, Kind: "gil", Segs: d.done()})
		}
		d := decimator{px: px}
		for _, sp := range clipStates(tl.s.ThreadStates(id), start, end) {
			d.add(max(sp.Start, start), min(sp.End, end), int64(sp.State))
			w.Spans++
		}
		w.Lanes = append(w.Lanes, Lane{Name: th.Name, Process: proc, Thread: int(id), Kind: "thread", Segs: d.done()})
	}
	i := sort.Search(len(tl.arrows), func(i int) bool { return tl.arrows[i].Acquired >= start })
	for ; i < len(tl.arrows) && tl.arrows[i].Released < end; i++ {
		if len(w.Handoffs) == maxArrows {
			w.Omitted++
			continue
		}
		h := tl.arrows[i]
		w.Handoffs = append(w.Handoffs, [4]int64{h.Released, h.Acquired, int64(h.From), int64(h.To)})
	}
	return w
}

// clipStates returns the spans of ss (in time order, not overlapping)
// that overlap [start, end).
func clipStates(ss []tracer.StateSpan, start, end int64) []tracer.StateSpan {
	i := sort.Search(len(ss), func(i int) bool { return ss[i].End > start })
	j := sort.Search(len(ss), func(i int) bool { return ss[i].Start >= end })
	return ss[i:max(i, j)]
}

// clipHolds is clipStates for holds of one lock.
func clipHolds(hs []tracer.Hold, start, end int64) []tracer.Hold {
	i := sort.Search(len(hs), func(i int) bool { return hs[i].End > start })
	j := sort.Search(len(hs), func(i int) bool { return hs[i].Start >= end })
	return hs[i:max(i, j)]
}

// decimator merges intervals, given in time order, into segments at
// least px long where they are shorter: a merged segment takes the key
// that covered most of it. Adjacent segments of one key are joined.
type decimator struct {
	px   int64
	out  []Segment
	acc  map[int64]int64 // key -> time, of the pending short intervals
	a, b int64           // the pending interval's bounds
	n    int64
}

func (d *decimator) add(start, end, key int64) {
	if end <= start {
		return
	}
	if end-start >= d.px {
		d.flush()
		d.emit(Segment{start, end, key, 1})
		return
	}
	if d.n > 0 && start-d.a >= d.px {
		d.flush()
	}
	if d.n == 0 {
		d.a, d.acc = start, map[int64]int64{}
	}
	d.acc[key] += end - start
	d.b = end
	d.n++
}

func (d *decimator) flush() {
	if d.n == 0 {
		return
	}
	best, bestT := int64(0), int64(-1)
	for k, v := range d.acc {
		if v > bestT || (v == bestT && k < best) {
			best, bestT = k, v
		}
	}
	d.emit(Segment{d.a, d.b, best, d.n})
	d.n = 0
}

func (d *decimator) emit(s Segment) {
	if n := len(d.out); n > 0 && d.out[n-1][2] == s[2] && d.out[n-1][1] == s[0] {
		d.out[n-1][1] = s[1]
		d.out[n-1][3] += s[3]
		return
	}
	d.out = append(d.out, s)
}

func (d *decimator) done() []Segment {
	d.flush()
	if d.out == nil {
		return []Segment{}
	}
	return d.out
}

// timelineJSON serves /timeline.json?start=NS&end=NS&width=PX; a missing
// bound is the run's, a missing width 1000.
func (h *Handler) timelineJSON(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dur := h.o.Spans.Trace.Duration()
	start, err1 := intParam(q.Get("start"), 0)
	end, err2 := intParam(q.Get("end"), dur)
	width, err3 := intParam(q.Get("width"), 1000)
	if err1 != nil || err2 != nil || err3 != nil || width < 1 {
		http.Error(w, "expected integer start, end (nanoseconds) and width (pixels)", http.StatusBadRequest)
		return
	}
	start, end = max(start, 0), min(max(end, start+1), max(dur, start+1))
	win := h.timeline.window(start, end, int(min(width, maxWidth)))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(win)
}

func intParam(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}
