package oteltrace

import (
	"sort"

	"go.opentelemetry.io/otel/attribute"

	"github.com/giltrace/giltrace/tracer"
)

// threadIndex answers "how much of each state, how many acquisitions and
// drop requests between a and b" for one thread in O(log n), so that every
// call span can carry its roll-up without rescanning the thread's states.
type threadIndex struct {
	states    []tracer.StateSpan
	cum       []tracer.Totals // cum[i]: time per state before states[i]
	acquires  []int64         // GIL acquire times
	dropsMade []int64         // drop requests this thread set
	dropsRecv []int64         // drop requests addressed to this thread
	hasGIL    bool
}

func newThreadIndexes(s *tracer.Spans) []threadIndex {
	t := s.Trace
	idx := make([]threadIndex, len(t.Threads))
	for id := range idx {
		x := &idx[id]
		x.states = s.ThreadStates(tracer.ThreadID(id))
		x.cum = make([]tracer.Totals, len(x.states)+1)
		for i, sp := range x.states {
			x.cum[i+1] = x.cum[i]
			x.cum[i+1][sp.State] += sp.End - sp.Start
		}
		if p := t.Threads[id].Proc; int(p) < len(t.Procs) {
			x.hasGIL = t.Procs[p].GIL != tracer.NoLock
		}
	}
	for _, h := range s.Holds {
		if isGIL(t, h.Lock) && int(h.Thread) < len(idx) {
			idx[h.Thread].acquires = append(idx[h.Thread].acquires, h.Start)
		}
	}
	for _, d := range s.DropRequests {
		if int(d.Thread) < len(idx) {
			idx[d.Thread].dropsMade = append(idx[d.Thread].dropsMade, d.Time)
		}
		if int(d.Holder) < len(idx) {
			idx[d.Holder].dropsRecv = append(idx[d.Holder].dropsRecv, d.Time)
		}
	}
	return idx
}

func isGIL(t *tracer.Trace, l tracer.LockID) bool {
	return int(l) < len(t.Locks) && t.Locks[l].GIL
}

// at is the time per state from the thread's start to time t.
func (x *threadIndex) at(t int64) tracer.Totals {
	// First state that ends after t: t falls inside it or before it.
	i := sort.Search(len(x.states), func(j int) bool { return x.states[j].End > t })
	tot := x.cum[i]
	if i < len(x.states) && x.states[i].Start < t {
		tot[x.states[i].State] += t - x.states[i].Start
	}
	return tot
}

// totals is the time per state in [a, b).
func (x *threadIndex) totals(a, b int64) tracer.Totals {
	hi, lo := x.at(b), x.at(a)
	for i := range hi {
		hi[i] -= lo[i]
	}
	return hi
}

// countIn counts the times of ts (sorted) in [a, b).
func countIn(ts []int64, a, b int64) int {
	lo := sort.Search(len(ts), func(i int) bool { return ts[i] >= a })
	hi := sort.Search(len(ts), func(i int) bool { return ts[i] >= b })
	return hi - lo
}

// rollup is what a thread or call span says about its interval.
type rollup struct {
	tot       tracer.Totals
	acquires  int
	dropsMade int
	dropsRecv int
	hasGIL    bool
}

func (x *threadIndex) rollup(a, b int64) rollup {
	return rollup{
		tot:       x.totals(a, b),
		acquires:  countIn(x.acquires, a, b),
		dropsMade: countIn(x.dropsMade, a, b),
		dropsRecv: countIn(x.dropsRecv, a, b),
		hasGIL:    x.hasGIL,
	}
}

func (r *rollup) add(o rollup) {
	for i := range r.tot {
		r.tot[i] += o.tot[i]
	}
	r.acquires += o.acquires
	r.dropsMade += o.dropsMade
	r.dropsRecv += o.dropsRecv
	r.hasGIL = r.hasGIL || o.hasGIL
}

// Roll-up attribute keys. The names gil.wait_ns ... gil.drop_requests are
// the ones giltrace's docs and issue promise; the others follow them.
const (
	keyGILWait      = attribute.Key("gil.wait_ns")
	keyGILHeld      = attribute.Key("gil.held_ns")
	keyIO           = attribute.Key("io_ns")
	keyNative       = attribute.Key("native_ns")
	keyRunning      = attribute.Key("running_ns")
	keyLockWait     = attribute.Key("lock_wait_ns")
	keyAcquisitions = attribute.Key("gil.acquisitions")
	keyDrops        = attribute.Key("gil.drop_requests")
	keyDropsRecv    = attribute.Key("gil.drop_requests_received")
)

// attrs renders the roll-up. gil.held_ns is the time running or in a
// native call that keeps the GIL, 0 without a GIL; native_ns counts native
// calls whether or not they release the GIL.
func (r rollup) attrs() []attribute.KeyValue {
	held := int64(0)
	if r.hasGIL {
		held = r.tot[tracer.StateRunning] + r.tot[tracer.StateNativeHolding]
	}
	return []attribute.KeyValue{
		keyGILWait.Int64(r.tot[tracer.StateGILWait]),
		keyGILHeld.Int64(held),
		keyIO.Int64(r.tot[tracer.StateIO]),
		keyNative.Int64(r.tot[tracer.StateNative] + r.tot[tracer.StateNativeHolding]),
		keyRunning.Int64(r.tot[tracer.StateRunning]),
		keyLockWait.Int64(r.tot[tracer.StateLockWait]),
		keyAcquisitions.Int(r.acquires),
		keyDrops.Int(r.dropsMade),
		keyDropsRecv.Int(r.dropsRecv),
	}
}
