package oteltrace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	sdktracetest "go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

const ms = int64(time.Millisecond)

// exported is a trace exported to the SDK's in-memory exporter, indexed.
type exported struct {
	t     *testing.T
	tr    *tracer.Trace
	spans sdktracetest.SpanStubs
	byID  map[trace.SpanID]*sdktracetest.SpanStub
}

func export(t *testing.T, tr *tracer.Trace, opts Options) *exported {
	t.Helper()
	mem := sdktracetest.NewInMemoryExporter()
	if err := New(mem, opts).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatalf("Export: %v", err)
	}
	e := &exported{t: t, tr: tr, spans: mem.GetSpans(), byID: map[trace.SpanID]*sdktracetest.SpanStub{}}
	for i := range e.spans {
		s := &e.spans[i]
		if _, dup := e.byID[s.SpanContext.SpanID()]; dup {
			t.Fatalf("span ID %s used twice", s.SpanContext.SpanID())
		}
		e.byID[s.SpanContext.SpanID()] = s
	}
	return e
}

// named returns the spans whose name is name, in export order.
func (e *exported) named(name string) []*sdktracetest.SpanStub {
	var out []*sdktracetest.SpanStub
	for i := range e.spans {
		if e.spans[i].Name == name {
			out = append(out, &e.spans[i])
		}
	}
	return out
}

func (e *exported) one(name string) *sdktracetest.SpanStub {
	e.t.Helper()
	s := e.named(name)
	if len(s) != 1 {
		e.t.Fatalf("%d spans named %q, want 1", len(s), name)
	}
	return s[0]
}

func (e *exported) parent(s *sdktracetest.SpanStub) *sdktracetest.SpanStub {
	e.t.Helper()
	p := e.byID[s.Parent.SpanID()]
	if p == nil {
		e.t.Fatalf("span %q: parent %s not exported", s.Name, s.Parent.SpanID())
	}
	return p
}

// at is the absolute time of offset ns in the run.
func (e *exported) at(ns int64) time.Time { return e.tr.Meta.Start.Add(time.Duration(ns)) }

func attr(s *sdktracetest.SpanStub, key string) attribute.Value {
	return attrOf(s.Attributes, key)
}

func attrOf(kvs []attribute.KeyValue, key string) attribute.Value {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func threadOf(s *sdktracetest.SpanStub) string { return attr(s, "thread.name").AsString() }

func TestExportCountdownStructure(t *testing.T) {
	tr := testkit.Countdown(3)
	e := export(t, tr, Options{})

	// 1 root, 2 threads, main and count in each, and the 4 waits of at
	// least 1 ms of the scenario's timeline.
	if got, want := len(e.spans), 1+2+4+4; got != want {
		t.Fatalf("%d spans, want %d", got, want)
	}
	root := e.one("run countdown")
	if root.Parent.IsValid() {
		t.Errorf("root has parent %s", root.Parent.SpanID())
	}
	if !root.StartTime.Equal(tr.Meta.Start) || !root.EndTime.Equal(e.at(tr.Duration())) {
		t.Errorf("root: %v..%v, want %v..%v", root.StartTime, root.EndTime, tr.Meta.Start, e.at(tr.Duration()))
	}
	tid := root.SpanContext.TraceID()
	for _, s := range e.spans {
		if s.SpanContext.TraceID() != tid {
			t.Errorf("span %q in trace %s, want %s", s.Name, s.SpanContext.TraceID(), tid)
		}
		if s.SpanKind != trace.SpanKindInternal {
			t.Errorf("span %q: kind %v", s.Name, s.SpanKind)
		}
	}
	for _, name := range []string{"thread T1", "thread T2"} {
		th := e.one(name)
		if e.parent(th) != root {
			t.Errorf("%s: parent %q, want the root", name, e.parent(th).Name)
		}
	}
	for _, c := range e.named("count") {
		if p := e.parent(c); p.Name != "main" || threadOf(p) != threadOf(c) {
			t.Errorf("count of %s: parent %q of %s, want main of the same thread", threadOf(c), p.Name, threadOf(p))
		}
		if got := attr(c, "code.line.number").AsInt64(); got != 3 {
			t.Errorf("count: code.line.number %d, want 3", got)
		}
		if got := attr(c, "code.file.path").AsString(); got != testkit.File {
			t.Errorf("count: code.file.path %q", got)
		}
	}
	for _, m := range e.named("main") {
		if p := e.parent(m); p.Name != "thread "+threadOf(m) {
			t.Errorf("main of %s: parent %q", threadOf(m), p.Name)
		}
	}

	// The waits, from the scenario's timeline.
	type span struct {
		thread     string
		start, end int64
		parent     string
	}
	want := []span{
		{"T1", 5*ms + 100_000, 10*ms + 400_000, "count"},
		{"T1", 15*ms + 500_000, 18*ms + 600_050, "count"},
		{"T2", 5, 5*ms + 200_000, "thread T2"}, // waiting from its start
		{"T2", 10*ms + 300_000, 15*ms + 600_000, "count"},
	}
	var got []span
	for _, w := range e.named("gil wait") {
		got = append(got, span{threadOf(w), int64(w.StartTime.Sub(tr.Meta.Start)), int64(w.EndTime.Sub(tr.Meta.Start)), e.parent(w).Name})
		if d := attr(w, "gil.wait_ns").AsInt64(); d != int64(w.EndTime.Sub(w.StartTime)) {
			t.Errorf("wait of %s at %v: gil.wait_ns %d, want its duration", threadOf(w), w.StartTime, d)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("waits:\n got %v\nwant %v", got, want)
	}
}

func TestExportCountdownLinksAndEvents(t *testing.T) {
	tr := testkit.Countdown(3)
	e := export(t, tr, Options{})
	// T1's first wait (5.1-10.4 ms) is blamed on T2, which held the GIL
	// from 5.2 ms, inside count from 5.20002 ms until it released at 10.3 ms.
	var w *sdktracetest.SpanStub
	for _, s := range e.named("gil wait") {
		if threadOf(s) == "T1" && s.StartTime.Equal(e.at(5*ms+100_000)) {
			w = s
		}
	}
	if w == nil {
		t.Fatal("no wait of T1 at 5.1 ms")
	}
	if len(w.Links) == 0 {
		t.Fatal("wait has no links")
	}
	first := w.Links[0]
	target := e.byID[first.SpanContext.SpanID()]
	if target == nil || target.Name != "count" || threadOf(target) != "T2" {
		t.Fatalf("first link points to %+v, want T2's count", target)
	}
	if got := attrOf(first.Attributes, "gil.held_ns").AsInt64(); got != 10*ms+300_000-(5*ms+200_020) {
		t.Errorf("link gil.held_ns %d", got)
	}
	if got := attrOf(first.Attributes, "thread.name").AsString(); got != "T2" {
		t.Errorf("link thread.name %q", got)
	}
	var held int64
	for _, l := range w.Links {
		if e.byID[l.SpanContext.SpanID()] == nil {
			t.Errorf("link to %s, not exported", l.SpanContext.SpanID())
		}
		held += attrOf(l.Attributes, "gil.held_ns").AsInt64()
	}
	// Nobody held the GIL between T1's release at 5.1 ms and T2's
	// acquire at 5.2 ms, and between T2's release at 10.3 ms and T1's
	// acquire at 10.4 ms.
	if got := attr(w, "gil.unheld_ns").AsInt64(); got != 200_000 {
		t.Errorf("gil.unheld_ns %d, want 200000", got)
	}
	if held+attr(w, "gil.unheld_ns").AsInt64() != int64(w.EndTime.Sub(w.StartTime)) {
		t.Errorf("links hold %d ns + unheld, want the wait's %v", held, w.EndTime.Sub(w.StartTime))
	}
	if got := attr(w, "giltrace.wait.acquire").AsString(); got != "forced" {
		t.Errorf("giltrace.wait.acquire %q", got)
	}
	// Its drop request at 10.2 ms is an event of the wait span.
	if len(w.Events) != 1 || w.Events[0].Name != "gil.drop_request" || !w.Events[0].Time.Equal(e.at(10*ms+200_000)) {
		t.Errorf("wait events %+v, want one drop request at 10.2 ms", w.Events)
	}
	if got := attrOf(w.Events[0].Attributes, "giltrace.holder.thread.name").AsString(); got != "T2" {
		t.Errorf("drop request holder %q", got)
	}

	// 3 drop requests and 3 forced switches in all.
	counts := map[string]int{}
	for _, s := range e.spans {
		for _, ev := range s.Events {
			counts[ev.Name]++
		}
	}
	if counts["gil.drop_request"] != 3 || counts["gil.forced_switch"] != 3 {
		t.Errorf("events %v, want 3 drop requests and 3 forced switches", counts)
	}
	// T1 was forced off at 5.1 ms and 15.5 ms, inside count.
	var t1count *sdktracetest.SpanStub
	for _, s := range e.named("count") {
		if threadOf(s) == "T1" {
			t1count = s
		}
	}
	var times []time.Duration
	for _, ev := range t1count.Events {
		if ev.Name == "gil.forced_switch" {
			times = append(times, ev.Time.Sub(tr.Meta.Start))
			if got := attrOf(ev.Attributes, "gil.handoff_ns").AsInt64(); got != 100_000 {
				t.Errorf("forced switch handoff %d ns, want 100000", got)
			}
		}
	}
	if want := []time.Duration{5100 * time.Microsecond, 15500 * time.Microsecond}; !slices.Equal(times, want) {
		t.Errorf("T1's forced switches at %v, want %v", times, want)
	}
}

// Every thread and call span's state times add up to its duration.
func TestExportRollupsAddUp(t *testing.T) {
	for name, tr := range map[string]*tracer.Trace{
		"countdown": testkit.Countdown(4),
		"mixed":     testkit.Mixed(),
		"large":     testkit.Large(2000),
	} {
		t.Run(name, func(t *testing.T) {
			e := export(t, tr, Options{})
			for _, s := range e.spans {
				if strings.HasSuffix(s.Name, "wait") || strings.HasPrefix(s.Name, "lock wait") || strings.HasPrefix(s.Name, "run ") {
					continue
				}
				var sum int64
				for _, k := range []string{"gil.wait_ns", "running_ns", "io_ns", "native_ns", "lock_wait_ns"} {
					sum += attr(&s, k).AsInt64()
				}
				if d := int64(s.EndTime.Sub(s.StartTime)); sum != d {
					t.Errorf("%s of %s: states add up to %d ns, want %d", s.Name, threadOf(&s), sum, d)
				}
			}
		})
	}
}

func TestExportMixed(t *testing.T) {
	tr := testkit.Mixed()
	e := export(t, tr, Options{})
	// worker-1 waits for the cache lock from 6.2 ms to 8.3 ms, inside
	// query, while worker-2 holds it inside handle.
	lw := e.one("lock wait cache")
	if threadOf(lw) != "worker-1" || !lw.StartTime.Equal(e.at(6*ms+200)) || !lw.EndTime.Equal(e.at(8*ms+300)) {
		t.Errorf("lock wait: %s %v..%v", threadOf(lw), lw.StartTime, lw.EndTime)
	}
	if p := e.parent(lw); p.Name != "query" {
		t.Errorf("lock wait parent %q, want query", p.Name)
	}
	if got := attr(lw, "lock_wait_ns").AsInt64(); got != 2*ms+100 {
		t.Errorf("lock wait lock_wait_ns %d", got)
	}
	if attr(lw, "giltrace.lock.gil").AsBool() {
		t.Error("lock wait says it is the GIL")
	}
	if len(lw.Links) != 1 {
		t.Fatalf("lock wait links %d, want 1", len(lw.Links))
	}
	if h := e.byID[lw.Links[0].SpanContext.SpanID()]; h == nil || h.Name != "handle" || threadOf(h) != "worker-2" {
		t.Errorf("lock wait links to %+v, want worker-2's handle", h)
	}

	// worker-1's hash call spends 10.8-12 ms in a native call without the GIL.
	for _, s := range e.named("hash") {
		if got := attr(s, "native_ns").AsInt64(); got != 12*ms-(10*ms+800) {
			t.Errorf("hash native_ns %d", got)
		}
	}
	// worker-2's native call keeps the GIL: native and held.
	w2 := e.one("thread worker-2")
	if got := attr(w2, "native_ns").AsInt64(); got != 10*ms-(8*ms+500) {
		t.Errorf("worker-2 native_ns %d", got)
	}
	if got := attr(w2, "io_ns").AsInt64(); got != 8*ms-(5*ms+3300) {
		t.Errorf("worker-2 io_ns %d", got)
	}
	if got := attr(w2, "gil.drop_requests").AsInt64(); got != 1 {
		t.Errorf("worker-2 gil.drop_requests %d", got)
	}
	if got := attr(e.one("thread worker-1"), "gil.drop_requests_received").AsInt64(); got != 1 {
		t.Errorf("worker-1 gil.drop_requests_received %d", got)
	}
	// Free-threaded threads hold no GIL and belong to pid 2.
	for _, name := range []string{"thread ft-1", "thread ft-2"} {
		s := e.one(name)
		if attr(s, "gil.held_ns").AsInt64() != 0 || attr(s, "gil.acquisitions").AsInt64() != 0 {
			t.Errorf("%s: gil.held_ns %d, gil.acquisitions %d, want 0", name, attr(s, "gil.held_ns").AsInt64(), attr(s, "gil.acquisitions").AsInt64())
		}
		if got := attr(s, "process.pid").AsInt64(); got != 2 {
			t.Errorf("%s: process.pid %d", name, got)
		}
	}
	root := e.one("run mixed")
	if got := attr(root, "giltrace.process.names").AsStringSlice(); !slices.Equal(got, []string{"python", "python-nogil"}) {
		t.Errorf("process names %v", got)
	}
	if got := attr(root, "giltrace.gil_mode").AsString(); got != "cpython" {
		t.Errorf("gil mode %q", got)
	}
	if got := attr(root, "giltrace.switch_interval_ns").AsInt64(); got != int64(5*time.Millisecond) {
		t.Errorf("switch interval %d", got)
	}
}

func TestExportThreshold(t *testing.T) {
	tr := testkit.Countdown(3)
	s := tracer.Derive(tr)
	for _, th := range []time.Duration{time.Nanosecond, time.Millisecond, 5250 * time.Microsecond, time.Second} {
		want := 0
		for _, w := range s.Waits {
			if w.End-w.Start >= int64(th) {
				want++
			}
		}
		e := export(t, tr, Options{WaitThreshold: th})
		if got := len(e.named("gil wait")); got != want {
			t.Errorf("threshold %v: %d wait spans, want %d", th, got, want)
		}
	}
}

func TestExportBudget(t *testing.T) {
	tr := testkit.Large(3000)
	s := tracer.Derive(tr)
	// Large's rounds are 100 us: waits last a few rounds.
	const threshold = 150 * time.Microsecond
	long := 0
	for _, w := range s.Waits {
		if w.End-w.Start >= int64(threshold) {
			long++
		}
	}
	if long < 100 || len(s.Calls) < 100 {
		t.Fatalf("Large(3000) has %d waits of %v and %d calls: too few to overflow", long, threshold, len(s.Calls))
	}
	for _, budget := range []int{1, 5, 20, 101, 100000} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			e := export(t, tr, Options{SpanBudget: budget, WaitThreshold: threshold})
			if want := max(budget, 1+len(s.Threads)); len(e.spans) > want {
				t.Errorf("%d spans, budget %d", len(e.spans), budget)
			}
			root := e.one("run large")
			calls, waits := 0, 0
			folded := map[string]int64{}
			for i := range e.spans {
				sp := &e.spans[i]
				switch {
				case sp == root:
				case sp.Name == "gil wait":
					waits++
				case !strings.HasPrefix(sp.Name, "thread "):
					calls++
				}
				if sp != root {
					e.parent(sp)
					folded["calls"] += attr(sp, "giltrace.folded.calls").AsInt64()
					folded["waits"] += attr(sp, "giltrace.folded.waits").AsInt64()
				}
				for _, l := range sp.Links {
					if e.byID[l.SpanContext.SpanID()] == nil {
						t.Errorf("%s: link to a span not exported", sp.Name)
					}
				}
			}
			if fc := attr(root, "giltrace.folded.calls").AsInt64(); int(fc)+calls != len(s.Calls) || fc != folded["calls"] {
				t.Errorf("calls: %d sent + %d folded (%d on spans), want %d", calls, fc, folded["calls"], len(s.Calls))
			}
			if fw := attr(root, "giltrace.folded.waits").AsInt64(); int(fw)+waits != long || fw != folded["waits"] {
				t.Errorf("waits: %d sent + %d folded (%d on spans), want %d", waits, fw, folded["waits"], long)
			}
			if budget == 100000 && (calls != len(s.Calls) || waits != long) {
				t.Errorf("large budget folded something: %d calls, %d waits", calls, waits)
			}
			if budget == 101 && (calls == 0 || waits == 0) {
				t.Errorf("budget 101 over both: %d calls and %d waits, want some of each", calls, waits)
			}
		})
	}
}

func TestExportDeterministic(t *testing.T) {
	a := export(t, testkit.Large(2000), Options{})
	b := export(t, testkit.Large(2000), Options{})
	if len(a.spans) != len(b.spans) {
		t.Fatalf("%d then %d spans", len(a.spans), len(b.spans))
	}
	for i := range a.spans {
		x, y := a.spans[i], b.spans[i]
		if !x.SpanContext.Equal(y.SpanContext) || !x.Parent.Equal(y.Parent) || x.Name != y.Name ||
			!x.StartTime.Equal(y.StartTime) || !x.EndTime.Equal(y.EndTime) ||
			fmt.Sprint(x.Attributes, x.Links, x.Events) != fmt.Sprint(y.Attributes, y.Links, y.Events) {
			t.Fatalf("span %d differs:\n%+v\n%+v", i, x, y)
		}
	}
	// Another run (another start time) is another trace.
	tr := testkit.Large(2000)
	tr.Meta.Start = tr.Meta.Start.Add(time.Second)
	c := export(t, tr, Options{})
	if c.spans[0].SpanContext.TraceID() == a.spans[0].SpanContext.TraceID() {
		t.Error("two runs share a trace ID")
	}
}

// Two virtual-time runs have the same start time: runs with other seeds
// (another seed in the metadata, other events) are still other traces,
// and the same trace keeps its ID.
func TestTraceIDVirtualSeeds(t *testing.T) {
	a := testkit.Large(200)
	id := TraceID(a)
	if again := TraceID(testkit.Large(200)); again != id {
		t.Fatalf("the same trace has IDs %s and %s", id, again)
	}
	seeded := testkit.Large(200)
	seeded.Meta.Extra = map[string]string{"clock": "virtual", "seed": "2"}
	a.Meta.Extra = map[string]string{"clock": "virtual", "seed": "1"}
	if TraceID(a) == TraceID(seeded) {
		t.Error("runs with seeds 1 and 2 share a trace ID")
	}
	moved := testkit.Large(200)
	moved.Meta.Extra = a.Meta.Extra
	moved.Events[len(moved.Events)/2].Time++ // a waiter woken later: same counts and duration
	if TraceID(a) == TraceID(moved) {
		t.Error("runs with other events share a trace ID")
	}
}

func TestExportServiceName(t *testing.T) {
	service := func(opts Options) string {
		e := export(t, testkit.Countdown(1), opts)
		v, _ := e.spans[0].Resource.Set().Value(semconv.ServiceNameKey)
		return v.AsString()
	}
	t.Setenv("OTEL_SERVICE_NAME", "")
	if got := service(Options{}); got != DefaultServiceName {
		t.Errorf("default service.name %q", got)
	}
	t.Setenv("OTEL_SERVICE_NAME", "checkout")
	if got := service(Options{}); got != "checkout" {
		t.Errorf("with OTEL_SERVICE_NAME: %q", got)
	}
	if got := service(Options{ServiceName: "flag"}); got != "flag" {
		t.Errorf("with Options.ServiceName: %q", got)
	}
}

// The resource's semantic conventions are the SDK's own version.
func TestExportSchemaMatchesSDK(t *testing.T) {
	e := export(t, testkit.Countdown(1), Options{})
	if got, want := e.spans[0].Resource.SchemaURL(), resource.Default().SchemaURL(); got != want {
		t.Errorf("schema %q, SDK's %q", got, want)
	}
}

func TestExportNoStartTime(t *testing.T) {
	tr := testkit.Countdown(1)
	tr.Meta.Start = time.Time{}
	err := New(sdktracetest.NewInMemoryExporter(), Options{}).Export(context.Background(), tracer.Derive(tr))
	if err == nil || !strings.Contains(err.Error(), "no start time") {
		t.Errorf("err = %v", err)
	}
}

// failing fails after ok batches.
type failing struct {
	ok, calls int
	sizes     []int
}

func (f *failing) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	f.calls++
	f.sizes = append(f.sizes, len(s))
	if f.calls > f.ok {
		return errors.New("collector on fire")
	}
	return nil
}
func (f *failing) Shutdown(context.Context) error { return nil }

func TestExportBatchesAndStopsAtError(t *testing.T) {
	tr := testkit.Large(20000)
	f := &failing{ok: 1 << 30}
	if err := New(f, Options{SpanBudget: 1300}).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.sizes, []int{512, 512, 1300 - 1024}) {
		t.Errorf("batches %v, want 512, 512, 276", f.sizes)
	}
	f = &failing{ok: 1}
	err := New(f, Options{SpanBudget: 1300}).Export(context.Background(), tracer.Derive(tr))
	if err == nil || !strings.Contains(err.Error(), "exporting spans 513-1024 of 1300: collector on fire") {
		t.Errorf("err = %v", err)
	}
	if f.calls != 2 {
		t.Errorf("%d export calls after a failure, want 2", f.calls)
	}
}

func TestExportManyEventsFold(t *testing.T) {
	tr := testkit.Countdown(2*maxEvents + 10)
	e := export(t, tr, Options{WaitThreshold: time.Hour})
	root := e.one("run countdown")
	var events, folded int64
	for _, s := range e.spans {
		if len(s.Events) > maxEvents {
			t.Errorf("%s: %d events", s.Name, len(s.Events))
		}
		events += int64(len(s.Events))
		if s.Name != root.Name {
			folded += attr(&s, "giltrace.folded.events").AsInt64()
		}
	}
	want := int64(2 * (2*maxEvents + 10)) // a drop request and a forced switch a round
	if events+folded != want || folded != attr(root, "giltrace.folded.events").AsInt64() || folded == 0 {
		t.Errorf("%d events + %d folded (root says %d), want %d", events, folded, attr(root, "giltrace.folded.events").AsInt64(), want)
	}
}

// A trace cut anywhere (a file cut off mid-write) still exports, with
// every span inside the run.
func TestExportCutTraces(t *testing.T) {
	full := testkit.Mixed()
	for n := 1; n <= len(full.Events); n++ {
		tr := *full
		tr.Events = full.Events[:n]
		tr.Truncated = true
		e := export(t, &tr, Options{WaitThreshold: time.Nanosecond})
		root := e.spans[0]
		if !attr(&root, "giltrace.truncated").AsBool() {
			t.Fatalf("%d events: root does not say truncated", n)
		}
		for _, s := range e.spans {
			if s.EndTime.Before(s.StartTime) || s.StartTime.Before(root.StartTime) || s.EndTime.After(root.EndTime) {
				t.Fatalf("%d events: span %q %v..%v outside the run %v..%v", n, s.Name, s.StartTime, s.EndTime, root.StartTime, root.EndTime)
			}
		}
	}
}

// In the recorded convoy run, the I/O thread waits about a switch interval
// after each of its 100 I/Os, each time for the CPU-bound thread: its wait
// spans carry a drop request and link first to the CPU thread's crunch.
func TestExportConvoyFixture(t *testing.T) {
	tr := fixtureTrace(t, "convoy")
	if tr == nil {
		t.Skip("no convoy fixture")
	}
	e := export(t, tr, Options{})
	waits, blamed, dropped := 0, 0, 0
	for _, w := range e.named("gil wait") {
		if threadOf(w) != "io" {
			continue
		}
		waits++
		if len(w.Links) > 0 {
			if h := e.byID[w.Links[0].SpanContext.SpanID()]; h != nil && threadOf(h) == "cpu" && h.Name == "crunch" {
				blamed++
			}
		}
		for _, ev := range w.Events {
			if ev.Name == "gil.drop_request" && attrOf(ev.Attributes, "giltrace.holder.thread.name").AsString() == "cpu" {
				dropped++
				break
			}
		}
	}
	t.Logf("io thread: %d waits, %d blamed on crunch, %d with a drop request", waits, blamed, dropped)
	if waits < 50 || blamed < waits*9/10 || dropped < waits*9/10 {
		t.Errorf("io thread: %d waits of 1 ms or more, %d blamed first on cpu's crunch, %d with a drop request to cpu", waits, blamed, dropped)
	}
}

func TestExportEmptyTrace(t *testing.T) {
	e := export(t, testkit.New("empty").Trace(), Options{})
	if len(e.spans) != 1 || e.spans[0].Name != "run empty" || !e.spans[0].EndTime.Equal(e.spans[0].StartTime) {
		t.Errorf("spans %+v, want the run alone", e.spans)
	}
}

func TestExportResourceAttributes(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci")
	e := export(t, testkit.Countdown(1), Options{})
	if v, _ := e.spans[0].Resource.Set().Value("deployment.environment"); v.AsString() != "ci" {
		t.Errorf("deployment.environment = %q", v.AsString())
	}
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "no-equals-sign")
	err := New(sdktracetest.NewInMemoryExporter(), Options{}).Export(context.Background(), tracer.Derive(testkit.Countdown(1)))
	if err == nil || !strings.Contains(err.Error(), "OTEL_RESOURCE_ATTRIBUTES") {
		t.Errorf("err = %v, want one naming OTEL_RESOURCE_ATTRIBUTES", err)
	}
}

// TestRunSpanSaysWhereTheRunComesFrom: the run span carries the clock
// (and a simulated run's seed), so that a simulated run, dated 1970, can
// be told apart in Jaeger (QA).
func TestRunSpanSaysWhereTheRunComesFrom(t *testing.T) {
	tr := testkit.Countdown(3)
	root := export(t, tr, Options{}).one("run countdown")
	if got := attr(root, "giltrace.clock").AsString(); got != "real" {
		t.Errorf("giltrace.clock %q, want real", got)
	}
	if got := attr(root, "giltrace.seed"); got.Type() != attribute.EMPTY {
		t.Errorf("a real run's giltrace.seed %v", got)
	}
	tr = testkit.Countdown(3)
	if tr.Meta.Extra == nil {
		tr.Meta.Extra = map[string]string{}
	}
	tr.Meta.Extra["clock"], tr.Meta.Extra["seed"] = "virtual", "7"
	root = export(t, tr, Options{}).one("run countdown")
	if c, s := attr(root, "giltrace.clock").AsString(), attr(root, "giltrace.seed").AsString(); c != "virtual" || s != "7" {
		t.Errorf("giltrace.clock %q, giltrace.seed %q; want virtual, 7", c, s)
	}
	tr = testkit.Countdown(3)
	tr.Meta.Extra = map[string]string{"source": "cpython"}
	root = export(t, tr, Options{}).one("run countdown")
	if src := attr(root, "giltrace.source").AsString(); src != "cpython" {
		t.Errorf("giltrace.source %q, want cpython", src)
	}
}

// TestCheckIntervalOnlyInLegacyMode: giltrace.check_interval, the legacy
// GIL's ticks, is on a legacy run's span only (QA: sent for every run).
func TestCheckIntervalOnlyInLegacyMode(t *testing.T) {
	tr := testkit.Countdown(2)
	tr.Meta.CheckInterval = 100
	if got := attr(export(t, tr, Options{}).one("run countdown"), "giltrace.check_interval"); got.Type() != attribute.EMPTY {
		t.Errorf("a %s run's giltrace.check_interval: %v", tr.Meta.GILMode, got.String())
	}
	tr = testkit.Countdown(2)
	tr.Meta.GILMode, tr.Meta.CheckInterval = tracer.GILLegacy, 100
	if got := attr(export(t, tr, Options{}).one("run countdown"), "giltrace.check_interval").AsInt64(); got != 100 {
		t.Errorf("a legacy run's giltrace.check_interval: %d, want 100", got)
	}
}

// TestExportWarnings: a run on a busy machine says so on its root span
// (giltrace.warnings, and an event giltrace.warning at its start), with
// the figure, in the report's words (Options.Warnings, as giltrace gives
// them); a run the machine served does not.
func TestExportWarnings(t *testing.T) {
	for _, busy := range []bool{true, false} {
		tr := testkit.Countdown(3)
		if tr.Meta.Extra == nil {
			tr.Meta.Extra = map[string]string{}
		}
		tr.Meta.Extra["cpu_ns"] = strconv.FormatInt(tr.Duration(), 10)
		if busy {
			tr.Meta.Extra["cpu_ns"] = strconv.FormatInt(tr.Duration()/10, 10)
		}
		e := export(t, tr, Options{Warnings: report.Warnings(tracer.Derive(tr))})
		root := e.one("run " + tr.Meta.Workload)
		ws := attr(root, "giltrace.warnings").AsStringSlice()
		var events []string
		for _, ev := range root.Events {
			if ev.Name == "giltrace.warning" {
				for _, a := range ev.Attributes {
					if a.Key == "message" {
						events = append(events, a.Value.AsString())
					}
				}
			}
		}
		if !busy {
			if len(ws) != 0 || len(events) != 0 {
				t.Errorf("not busy: warnings %q, events %q", ws, events)
			}
			continue
		}
		if len(ws) != 1 || !strings.HasPrefix(ws[0], "busy machine: the run obtained 10 % of the CPU time") {
			t.Errorf("giltrace.warnings = %q", ws)
		}
		if len(events) != 1 || !strings.HasPrefix(events[0], "Warning: busy machine: ") {
			t.Errorf("warning events %q", events)
		}
	}
}
