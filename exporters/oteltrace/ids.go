package oteltrace

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"

	"go.opentelemetry.io/otel/trace"

	"github.com/giltrace/giltrace/tracer"
)

// kind is what a span of the exported trace stands for.
type kind uint8

const (
	kindRoot   kind = iota + 1 // the run
	kindThread                 // a thread; index is its ThreadID
	kindCall                   // a call; index into Spans.Calls
	kindWait                   // a wait; index into Spans.Waits
)

// ref names a span of the exported trace.
type ref struct {
	kind  kind
	index int
}

var rootRef = ref{kind: kindRoot}

// traceIDFor derives the trace ID from what identifies the run, so that
// re-exporting a file sends the same trace: its metadata (the extra keys
// too: a virtual run's seed and cores) and its events. A virtual run's
// start time is fixed: two of them with different seeds differ in their
// seed and events, not in their start.
func traceIDFor(t *tracer.Trace) trace.TraceID {
	m := &t.Meta
	h := sha256.New()
	fmt.Fprintf(h, "giltrace\x00%d\x00%s\x00%s\x00%s\x00%d\x00%d\x00%d\x00%d\x00%s",
		m.Start.UnixNano(), m.Workload, m.WorkloadFile, m.GILMode, m.SwitchInterval,
		len(t.Threads), len(t.Events), t.Duration(), m.Version)
	keys := make([]string, 0, len(m.Extra))
	for k := range m.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, m.Extra[k])
	}
	// The events, in fixed-size records: one pass, buffered.
	var buf [4096]byte
	n := 0
	for i := range t.Events {
		e := &t.Events[i]
		if n+25 > len(buf) {
			h.Write(buf[:n])
			n = 0
		}
		binary.LittleEndian.PutUint64(buf[n:], uint64(e.Time))
		binary.LittleEndian.PutUint64(buf[n+8:], e.Arg)
		binary.LittleEndian.PutUint32(buf[n+16:], uint32(e.Thread))
		binary.LittleEndian.PutUint32(buf[n+20:], uint32(e.Stack))
		buf[n+24] = byte(e.Kind)
		n += 25
	}
	h.Write(buf[:n])
	var id trace.TraceID
	copy(id[:], h.Sum(nil))
	if !id.IsValid() {
		id[len(id)-1] = 1
	}
	return id
}

// spanIDFor derives the ID of span r of trace tid.
func spanIDFor(tid trace.TraceID, r ref) trace.SpanID {
	var buf [16 + 1 + 8]byte
	copy(buf[:], tid[:])
	buf[16] = byte(r.kind)
	binary.BigEndian.PutUint64(buf[17:], uint64(r.index))
	sum := sha256.Sum256(buf[:])
	var id trace.SpanID
	copy(id[:], sum[:])
	if !id.IsValid() {
		id[len(id)-1] = 1
	}
	return id
}

// idKey is the context key under which the IDs of the span being started
// are passed to idGenerator.
type idKey struct{}

type spanIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

// idGenerator hands the SDK the IDs chosen by the exporter: each span is
// started with a context that carries them.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	ids := idsFrom(ctx)
	return ids.trace, ids.span
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	return idsFrom(ctx).span
}

func idsFrom(ctx context.Context) spanIDs {
	ids, ok := ctx.Value(idKey{}).(spanIDs)
	if !ok {
		panic("oteltrace: span started without its IDs in the context")
	}
	return ids
}

// TraceID is the ID of the trace Export sends for t, in hex: look it up in
// Jaeger at /trace/<id>.
func TraceID(t *tracer.Trace) string { return traceIDFor(t).String() }
