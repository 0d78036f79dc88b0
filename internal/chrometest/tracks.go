package chrometest

import (
	"math"
	"sort"
)

// opened is a slice open on a track's stack, as Perfetto's SliceTracker
// keeps it.
type opened struct {
	slice   int // index into Summary.Slices[track]
	name    string
	start   int64
	dur     int64
	pending bool // a "B" not yet ended
}

func (o *opened) end() int64 { return o.start + o.dur }

// contains reports whether a flow at ts binds meaningfully to o: slices
// are half-open, except that an instant contains its own time.
func (o *opened) contains(ts int64) bool {
	if o.pending {
		return o.start <= ts
	}
	return o.start <= ts && (ts < o.end() || (o.dur == 0 && ts == o.start))
}

type flowStart struct {
	e     *event
	slice string
	ended bool
}

// tracks replays the events in Perfetto's order and checks slices and
// flows track by track.
type tracks struct {
	v       *validator
	stacks  map[Track][]opened
	flows   map[string]*flowStart
	pending map[Track][]*event // "f" without "bp":"e", waiting for the next slice
}

// order returns the events in the order Perfetto's sorter parses them: by
// ts; once the trace has an "X", at equal ts "E" first, then "X" by
// decreasing duration, then everything else; then file order.
func (v *validator) order() []*event {
	out := make([]*event, len(v.events))
	hasX := false
	for i := range v.events {
		out[i] = &v.events[i]
		hasX = hasX || v.events[i].ph == 'X'
	}
	key := func(e *event) int64 {
		if !hasX {
			return 0
		}
		switch e.ph {
		case 'E':
			return math.MinInt64
		case 'X':
			return math.MaxInt64 - e.dur
		}
		return math.MaxInt64
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ts != b.ts {
			return a.ts < b.ts
		}
		return key(a) < key(b)
	})
	return out
}

// checkTracks checks nesting on every track and binds flows.
func (v *validator) checkTracks() {
	t := &tracks{v: v, stacks: map[Track][]opened{}, flows: map[string]*flowStart{}, pending: map[Track][]*event{}}
	for _, e := range v.order() {
		tr := Track{e.pid, e.tid}
		switch e.ph {
		case 'X':
			t.begin(tr, e, e.dur, false)
		case 'i', 'I':
			if e.scope == "" || e.scope == "t" {
				t.begin(tr, e, 0, false)
			}
		case 'B':
			t.begin(tr, e, 0, true)
		case 'E':
			t.endSlice(tr, e)
		case 's':
			t.flowStart(tr, e)
		case 'f':
			t.flowEnd(tr, e)
		case 't':
			if _, ok := t.flows[e.id]; !ok {
				v.eventErr(e, "flow step with id %s has no start before it", e.id)
			}
		}
	}
	t.finish()
}

// pop closes the slices on top of the stack that have ended by ts:
// those ending before it, or at it unless both are instants.
func (t *tracks) pop(tr Track, ts, dur int64, pending bool) []opened {
	st := t.stacks[tr]
	for n := len(st); n > 0; n = len(st) {
		top := &st[n-1]
		if top.pending {
			break
		}
		end := top.end()
		instants := top.dur == 0 && dur == 0 && !pending
		if end < ts || (end == ts && !instants) {
			st = st[:n-1]
			continue
		}
		break
	}
	t.stacks[tr] = st
	return st
}

// begin opens a slice (dur is ignored when pending).
func (t *tracks) begin(tr Track, e *event, dur int64, pending bool) {
	st := t.pop(tr, e.ts, dur, pending)
	if n := len(st); n > 0 && !pending {
		top := st[n-1]
		if !top.pending && e.ts+dur > top.end() {
			t.v.eventErr(e, "slice [%s, %s) µs on pid %d tid %d partially overlaps %q [%s, %s)",
				micros(e.ts), micros(e.ts+dur), tr.PID, tr.TID, top.name, micros(top.start), micros(top.end()))
			return
		}
	}
	slices := t.v.s.Slices[tr]
	t.v.s.Slices[tr] = append(slices, Slice{Name: e.name, Cat: e.cat, Start: e.ts, Dur: dur, Depth: len(st)})
	t.stacks[tr] = append(st, opened{slice: len(slices), name: e.name, start: e.ts, dur: dur, pending: pending})
	for _, f := range t.pending[tr] {
		t.bind(f, e.name)
	}
	delete(t.pending, tr)
}

// endSlice closes the innermost "B".
func (t *tracks) endSlice(tr Track, e *event) {
	st := t.pop(tr, e.ts, 0, true)
	n := len(st)
	if n == 0 {
		t.v.eventErr(e, "E on pid %d tid %d with no open B", tr.PID, tr.TID)
		return
	}
	top := st[n-1]
	if !top.pending {
		t.v.eventErr(e, "E at %s µs closes a B while %q [%s, %s) inside it is still open",
			micros(e.ts), top.name, micros(top.start), micros(top.end()))
		return
	}
	if e.name != "" && e.name != top.name {
		t.v.eventErr(e, "E named %q closes B named %q", e.name, top.name)
	}
	t.v.s.Slices[tr][top.slice].Dur = e.ts - top.start
	t.stacks[tr] = st[:n-1]
}

// top returns the slice a flow event binds to: the top of the track's
// stack as it is, without closing ended slices (Perfetto's
// GetTopmostSliceOnTrack).
func (t *tracks) top(tr Track, e *event) (string, bool) {
	st := t.stacks[tr]
	if len(st) == 0 {
		t.v.eventErr(e, "flow at %s µs on pid %d tid %d has no slice to bind to", micros(e.ts), tr.PID, tr.TID)
		return "", false
	}
	top := st[len(st)-1]
	if !top.contains(e.ts) {
		t.v.eventErr(e, "flow at %s µs on pid %d tid %d binds to %q [%s, %s), which does not contain it",
			micros(e.ts), tr.PID, tr.TID, top.name, micros(top.start), micros(top.end()))
		return "", false
	}
	return top.name, true
}

func (t *tracks) flowStart(tr Track, e *event) {
	if _, dup := t.flows[e.id]; dup {
		t.v.eventErr(e, "flow id %s starts twice: flow ids must be unique", e.id)
		return
	}
	name, _ := t.top(tr, e)
	t.flows[e.id] = &flowStart{e: e, slice: name}
}

func (t *tracks) flowEnd(tr Track, e *event) {
	s, ok := t.flows[e.id]
	switch {
	case !ok:
		t.v.eventErr(e, "flow id %s ends before (or without) its start", e.id)
		return
	case s.ended:
		t.v.eventErr(e, "flow id %s ends twice", e.id)
		return
	case s.e.cat != e.cat || s.e.name != e.name:
		t.v.eventErr(e, "flow id %s ends with cat/name %q/%q, started with %q/%q (Perfetto keys v1 flows by id, cat and name)",
			e.id, e.cat, e.name, s.e.cat, s.e.name)
		return
	}
	s.ended = true
	if e.bp != "e" {
		t.pending[tr] = append(t.pending[tr], e)
		return
	}
	if name, ok := t.top(tr, e); ok {
		t.bind(e, name)
	}
}

// bind records the flow that ends with f in the slice named to.
func (t *tracks) bind(f *event, to string) {
	s := t.flows[f.id]
	t.v.s.Flows = append(t.v.s.Flows, Flow{
		ID: f.id, Cat: f.cat, Name: f.name,
		From: Track{s.e.pid, s.e.tid}, To: Track{f.pid, f.tid},
		FromSlice: s.slice, ToSlice: to,
	})
}

// finish reports what is left open.
func (t *tracks) finish() {
	for _, tr := range sortedTracks(t.stacks) {
		for _, o := range t.stacks[tr] {
			if o.pending {
				t.v.errorf("B %q at %s µs on pid %d tid %d is never ended", o.name, micros(o.start), tr.PID, tr.TID)
			}
		}
	}
	for _, tr := range sortedTracks(t.pending) {
		for _, f := range t.pending[tr] {
			t.v.eventErr(f, "flow end without bp:e has no later slice to bind to")
		}
	}
	ids := make([]string, 0, len(t.flows))
	for id, s := range t.flows {
		if !s.ended {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		t.v.eventErr(t.flows[id].e, "flow id %s has no end", id)
	}
}

func sortedTracks[V any](m map[Track]V) []Track {
	out := make([]Track, 0, len(m))
	for tr := range m {
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PID != out[j].PID {
			return out[i].PID < out[j].PID
		}
		return out[i].TID < out[j].TID
	})
	return out
}
