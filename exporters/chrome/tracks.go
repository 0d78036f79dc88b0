package chrome

import (
	"strconv"

	"github.com/giltrace/giltrace/tracer"
)

// stateFrag is the category, name and chrome://tracing colour of each
// state's slices. cname is one of catapult's reserved colour names;
// Perfetto ignores it and colours by name.
var stateFrag = [tracer.NumStates]string{
	tracer.StateRunning:       `"cat":"state","name":"running","cname":"thread_state_running"`,
	tracer.StateGILWait:       `"cat":"state","name":"gil-wait","cname":"thread_state_runnable"`,
	tracer.StateIO:            `"cat":"state","name":"io","cname":"thread_state_iowait"`,
	tracer.StateNative:        `"cat":"state","name":"native","cname":"good"`,
	tracer.StateNativeHolding: `"cat":"state","name":"native-holding","cname":"bad"`,
	tracer.StateLockWait:      `"cat":"state","name":"lock-wait","cname":"thread_state_uninterruptible"`,
}

// writeThread writes thread id's call and state slices on its track,
// merged by start time, calls before states and outer calls before inner
// ones at equal starts. Each slice is clipped to the innermost open call
// so that slices on the track always nest, whatever the spans say.
func (l *layout) writeThread(o *out, id tracer.ThreadID) {
	states := l.s.ThreadStates(id)
	calls := l.s.Calls
	for l.nextCall < len(calls) && calls[l.nextCall].Thread < id {
		l.nextCall++ // calls of a thread out of range: skip
	}
	l.open = l.open[:0]
	trk := l.threadTrack[id]
	for i := 0; i < len(states) || (l.nextCall < len(calls) && calls[l.nextCall].Thread == id); {
		if l.nextCall < len(calls) && calls[l.nextCall].Thread == id &&
			(i == len(states) || calls[l.nextCall].Start <= states[i].Start) {
			c := calls[l.nextCall]
			l.nextCall++
			if start, end, ok := l.clip(c.Start, c.End); ok {
				l.open = append(l.open, end)
				l.writeCall(o, trk, c, start, end)
			}
			continue
		}
		sp := states[i]
		i++
		if start, end, ok := l.clip(sp.Start, sp.End); ok {
			l.writeState(o, trk, sp, start, end)
		}
	}
}

// clip closes the calls that end by start and limits [start, end) to the
// innermost call still open. ok is false if nothing is left.
func (l *layout) clip(start, end int64) (int64, int64, bool) {
	for n := len(l.open); n > 0 && l.open[n-1] <= start; n-- {
		l.open = l.open[:n-1]
	}
	if n := len(l.open); n > 0 {
		end = min(end, l.open[n-1])
	}
	return start, end, end > start
}

func (l *layout) writeCall(o *out, trk string, c tracer.CallSpan, start, end int64) {
	o.begin()
	b := append(o.b, `"ph":"X","cat":"call",`...)
	if int(c.Stack) < len(l.t.Stacks) && c.Stack != tracer.NoStack {
		b = append(b, l.frame(l.t.Stacks[c.Stack].Frame)...)
	} else {
		b = append(b, `"name":"?"`...)
	}
	o.b = appendSlice(b, trk, start, end)
	o.end()
}

func (l *layout) writeState(o *out, trk string, sp tracer.StateSpan, start, end int64) {
	o.begin()
	b := append(o.b, `"ph":"X",`...)
	if int(sp.State) < len(stateFrag) {
		b = append(b, stateFrag[sp.State]...)
	} else {
		b = append(b, `"cat":"state","name":`...)
		b = appendString(b, sp.State.String())
	}
	// args: the I/O kind or the lock, and the workload line the thread
	// was at (the operation that waited, blocked or held).
	sep := byte('{')
	b = append(b, `,"args":`...)
	switch {
	case sp.State == tracer.StateIO && sp.IOKind() != 0:
		b = append(b, `{"kind":`...)
		b = appendString(b, l.t.Str(sp.IOKind()))
		sep = ','
	case sp.State == tracer.StateLockWait && int(sp.Lock()) < len(l.t.Locks):
		b = append(b, `{"lock":`...)
		b = appendString(b, l.t.Locks[sp.Lock()].Name)
		sep = ','
	}
	if line := l.line(sp.Stack); line > 0 {
		b = append(b, sep)
		b = append(b, `"line":`...)
		b = strconv.AppendInt(b, int64(line), 10)
		sep = ','
	}
	if sep == '{' {
		b = b[:len(b)-len(`,"args":`)]
	} else {
		b = append(b, '}')
	}
	o.b = appendSlice(b, trk, start, end)
	o.end()
}

// appendSlice appends the track, "ts" and "dur" of a complete event.
func appendSlice(b []byte, trk string, start, end int64) []byte {
	b = append(b, ',')
	b = append(b, trk...)
	b = append(b, `,"ts":`...)
	b = appendMicros(b, start)
	b = append(b, `,"dur":`...)
	return appendMicros(b, end-start)
}

// gilProc returns the process whose GIL is lock lk, or false.
func (l *layout) gilProc(lk tracer.LockID) (tracer.ProcID, bool) {
	if int(lk) >= len(l.t.Locks) || !l.t.Locks[lk].GIL {
		return 0, false
	}
	p := l.t.Locks[lk].Proc
	return p, int(p) < len(l.gilTrack) && l.gilTrack[p] != ""
}

// writeHolds writes a slice per GIL hold on its process's GIL track, named
// after the holder. A hold that starts before the previous one on the
// track ended is clipped, so that the track never overlaps itself.
func (l *layout) writeHolds(o *out) {
	last := make([]int64, len(l.t.Procs))
	for _, h := range l.s.Holds {
		p, ok := l.gilProc(h.Lock)
		if !ok {
			continue
		}
		start := max(h.Start, last[p])
		if h.End <= start {
			continue
		}
		last[p] = h.End
		o.begin()
		b := append(o.b, `"ph":"X","cat":"gil","name":`...)
		b = appendString(b, l.threadName(h.Thread))
		b = appendSlice(b, l.gilTrack[p], start, h.End)
		b = append(b, `,"args":{"how":"`...)
		b = append(b, h.How.String()...)
		b = append(b, `","why":"`...)
		b = append(b, h.Why.String()...)
		o.b = append(b, `"}`...)
		o.end()
	}
}

// writeInstants writes drop requests and forced switches as instants on
// the GIL track: a drop request lies inside the hold it asks to end, a
// forced switch at the start of the hold it began.
func (l *layout) writeInstants(o *out) {
	for _, d := range l.s.DropRequests {
		p, ok := l.gilProc(d.Lock)
		if !ok {
			continue
		}
		l.instant(o, "drop request", l.gilTrack[p], d.Time, "by", l.threadName(d.Thread), "holder", l.threadName(d.Holder))
	}
	for _, h := range l.s.Handoffs {
		if h.How != tracer.AcquireForced {
			continue
		}
		p, ok := l.gilProc(h.Lock)
		if !ok {
			continue
		}
		l.instant(o, "forced switch", l.gilTrack[p], h.Acquired, "from", l.threadName(h.From), "to", l.threadName(h.To))
	}
}

func (l *layout) instant(o *out, name, trk string, at int64, k1, v1, k2, v2 string) {
	o.begin()
	b := append(o.b, `"ph":"i","s":"t","cat":"gil","name":"`...)
	b = append(b, name...)
	b = append(b, `",`...)
	b = append(b, trk...)
	b = append(b, `,"ts":`...)
	b = appendMicros(b, at)
	b = append(b, `,"args":{"`...)
	b = append(b, k1...)
	b = append(b, `":`...)
	b = appendString(b, v1)
	b = append(b, `,"`...)
	b = append(b, k2...)
	b = append(b, `":`...)
	b = appendString(b, v2)
	o.b = append(b, `}`...)
	o.end()
}

// writeFlows writes an arrow per handoff, with id i+1 for Handoffs[i]:
// "s" on the releasing thread one nanosecond before the release, so that
// it binds to the slice that ends with the release rather than to the one
// that starts there (Perfetto's slices are half-open and a flow binds to
// the slice on top of the track's stack), and "f" with "bp":"e" on the
// acquiring thread at the acquire, binding to the slice that starts there.
// An end outside its thread's life has no slice to bind to (an acquire as
// the trace was cut off, or a broken trace): that handoff gets no arrow;
// nor does a thread taking back the lock it released (no handoff: the
// Perfetto exporter and the view draw none; QA: 48 226 arrows of 48 227,
// 10 MB of a legacy countdown's 36 MB trace.json, went from a thread to
// itself).
func (l *layout) writeFlows(o *out) {
	for i, h := range l.s.Handoffs {
		if int(h.Lock) >= len(l.flowName) || h.From == h.To {
			continue
		}
		from := max(h.Released-1, l.life(h.From).Start)
		if !l.alive(h.From, from) || !l.alive(h.To, h.Acquired) {
			continue
		}
		l.flow(o, 's', h.Lock, i+1, l.threadTrack[h.From], from)
		l.flow(o, 'f', h.Lock, i+1, l.threadTrack[h.To], h.Acquired)
	}
}

// life is the span of thread id, empty if it is unknown or never started.
func (l *layout) life(id tracer.ThreadID) tracer.ThreadSpan {
	if int(id) >= len(l.s.Threads) || len(l.s.ThreadStates(id)) == 0 {
		return tracer.ThreadSpan{}
	}
	return l.s.Threads[id]
}

// alive reports whether thread id has a state slice at time at.
func (l *layout) alive(id tracer.ThreadID, at int64) bool {
	life := l.life(id)
	return life.Start <= at && at < life.End
}

func (l *layout) flow(o *out, ph byte, lk tracer.LockID, id int, trk string, at int64) {
	o.begin()
	b := append(o.b, `"ph":"`...)
	b = append(b, ph, '"', ',')
	if ph == 'f' {
		b = append(b, `"bp":"e",`...)
	}
	b = append(b, `"id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, ',')
	b = append(b, l.flowName[lk]...)
	b = append(b, ',')
	b = append(b, trk...)
	b = append(b, `,"ts":`...)
	o.b = appendMicros(b, at)
	o.end()
}

// line is the workload line of stack st's innermost frame, or 0.
func (l *layout) line(st tracer.StackID) int {
	if st == tracer.NoStack || int(st) >= len(l.t.Stacks) {
		return 0
	}
	if f := l.t.Stacks[st].Frame; int(f) < len(l.t.Frames) {
		return l.t.Frames[f].Line
	}
	return 0
}
