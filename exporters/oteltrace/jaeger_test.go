package oteltrace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktracetest "go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/giltrace/giltrace/internal/jaegertest"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestJaeger sends runs to a real Jaeger over each protocol and checks,
// through Jaeger's query API, that it stored exactly the spans the exporter
// produced: IDs, parents, names, times, attributes, links and events.
func TestJaeger(t *testing.T) {
	if testing.Short() && !jaegertest.InCI() {
		t.Skip("starts Jaeger; not with -short")
	}
	j := jaegertest.Start(t)
	runs := map[string]*tracer.Trace{"mixed": testkit.Mixed(), "countdown": testkit.Countdown(20)}
	names := []string{"mixed", "countdown"}
	for _, name := range []string{"convoy", "api-service"} {
		if tr := fixtureTrace(t, name); tr != nil {
			runs[name] = tr
			names = append(names, name)
		}
	}
	for i, p := range []string{ProtocolHTTPProtobuf, ProtocolGRPC, ProtocolHTTPJSON} {
		endpoint := j.OTLPHTTP
		if p == ProtocolGRPC {
			endpoint = j.OTLPGRPC
		}
		for _, name := range names {
			tr := runs[name]
			t.Run(p+"/"+name, func(t *testing.T) {
				// Each protocol sends its own run: another start, another trace.
				run := *tr
				run.Meta.Start = tr.Meta.Start.Add(time.Duration(i) * time.Hour)
				service := fmt.Sprintf("giltrace-test-%d-%s", i, name)
				checkJaeger(t, j, &run, service, ClientOptions{Endpoint: endpoint, Protocol: p})
			})
		}
	}
}

// fixtureTrace reads fixtures/traces/name.giltrace, a recorded run (about
// 200 spans for convoy, 1000 for api-service), if the repository has it.
func fixtureTrace(t *testing.T, name string) *tracer.Trace {
	path := filepath.Join("..", "..", "fixtures", "traces", name+".giltrace")
	if _, err := os.Stat(path); err != nil {
		t.Logf("no %s: not exported", path)
		return nil
	}
	tr, err := tracer.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return tr
}

func checkJaeger(t *testing.T, j *jaegertest.Jaeger, tr *tracer.Trace, service string, co ClientOptions) {
	clearOTLPEnv(t)
	opts := Options{ServiceName: service}
	want := flatten(t, tr, opts)

	c := newClient(t, co)
	if err := New(c, opts).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatal(err)
	}
	got := queryJaeger(t, j, service, tr, len(want))

	if len(got) != len(want) {
		t.Fatalf("jaeger has %d spans, want %d", len(got), len(want))
	}
	byID := map[string]flatSpan{}
	for _, s := range got {
		byID[s.ID] = s
	}
	for _, w := range want {
		g, ok := byID[w.ID]
		if !ok {
			t.Errorf("span %s %q missing", w.ID, w.Name)
			continue
		}
		if diff := w.diff(g); diff != "" {
			t.Errorf("span %s %q: %s", w.ID, w.Name, diff)
		}
	}
	// And the structure, directly: one root at the run's start, threads
	// under it, every parent and link target stored.
	roots := 0
	for _, s := range got {
		if s.Parent == "" {
			roots++
			if s.Start != tr.Meta.Start.UnixNano() || s.End != tr.Meta.Start.UnixNano()+tr.Duration() {
				t.Errorf("root %d..%d, want the run's %d..%d", s.Start, s.End, tr.Meta.Start.UnixNano(), tr.Meta.Start.UnixNano()+tr.Duration())
			}
			continue
		}
		p, ok := byID[s.Parent]
		if !ok {
			t.Errorf("span %q: parent %s not stored", s.Name, s.Parent)
		}
		if strings.HasPrefix(s.Name, "thread ") && p.Parent != "" {
			t.Errorf("thread span %q under %q", s.Name, p.Name)
		}
		for _, l := range s.Links {
			if _, ok := byID[strings.SplitN(l, " ", 2)[0]]; !ok {
				t.Errorf("span %q: link target %s not stored", s.Name, l)
			}
		}
	}
	if roots != 1 {
		t.Errorf("%d roots", roots)
	}
}

// flatSpan is a span in a form both the SDK's stubs and Jaeger's OTLP JSON
// map to.
type flatSpan struct {
	ID, Parent, Name string
	Start, End       int64
	Attrs            map[string]string
	Links            []string // "spanID k=v k=v"
	Events           []string // "name time k=v"
	Service          string
}

func (w flatSpan) diff(g flatSpan) string {
	var d []string
	if w.Parent != g.Parent || w.Name != g.Name || w.Start != g.Start || w.End != g.End || w.Service != g.Service {
		d = append(d, fmt.Sprintf("got parent %s name %q %d..%d service %q, want %s %q %d..%d %q", g.Parent, g.Name, g.Start, g.End, g.Service, w.Parent, w.Name, w.Start, w.End, w.Service))
	}
	for k, v := range w.Attrs {
		if g.Attrs[k] != v {
			d = append(d, fmt.Sprintf("attribute %s = %q, want %q", k, g.Attrs[k], v))
		}
	}
	if len(g.Attrs) != len(w.Attrs) {
		d = append(d, fmt.Sprintf("%d attributes, want %d", len(g.Attrs), len(w.Attrs)))
	}
	if !slices.Equal(g.Links, w.Links) {
		d = append(d, fmt.Sprintf("links\n got %q\nwant %q", g.Links, w.Links))
	}
	if !slices.Equal(g.Events, w.Events) {
		d = append(d, fmt.Sprintf("events\n got %q\nwant %q", g.Events, w.Events))
	}
	return strings.Join(d, "; ")
}

func kvString(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, kv[k])
	}
	return b.String()
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// flatten exports tr to the SDK's in-memory exporter: what Jaeger must store.
func flatten(t *testing.T, tr *tracer.Trace, opts Options) []flatSpan {
	mem := sdktracetest.NewInMemoryExporter()
	if err := New(mem, opts).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatal(err)
	}
	var out []flatSpan
	for _, s := range mem.GetSpans() {
		f := flatSpan{ID: s.SpanContext.SpanID().String(), Name: s.Name, Start: s.StartTime.UnixNano(), End: s.EndTime.UnixNano(), Attrs: attrMap(s.Attributes)}
		if s.Parent.IsValid() {
			f.Parent = s.Parent.SpanID().String()
		}
		for _, l := range s.Links {
			f.Links = append(f.Links, l.SpanContext.SpanID().String()+kvString(attrMap(l.Attributes)))
		}
		for _, e := range s.Events {
			f.Events = append(f.Events, fmt.Sprintf("%s %d%s", e.Name, e.Time.UnixNano(), kvString(attrMap(e.Attributes))))
		}
		v, _ := s.Resource.Set().Value("service.name")
		f.Service = v.AsString()
		out = append(out, f)
	}
	return out
}

// queryJaeger waits until Jaeger stores the run's spans and flattens them.
func queryJaeger(t *testing.T, j *jaegertest.Jaeger, service string, tr *tracer.Trace, want int) []flatSpan {
	from := tr.Meta.Start.Add(-time.Minute)
	to := tr.Meta.Start.Add(time.Minute + time.Duration(tr.Duration()))
	spans, err := j.WaitSpans(context.Background(), service, from, to, want, 60*time.Second)
	if err != nil {
		t.Fatalf("querying jaeger: %v", err)
	}
	var out []flatSpan
	for _, s := range spans {
		f := flatSpan{ID: s.SpanID, Parent: s.ParentSpanID, Name: s.Name, Start: s.Start, End: s.End, Attrs: s.Attrs, Service: s.Service}
		for _, l := range s.Links {
			f.Links = append(f.Links, l.SpanID+kvString(l.Attrs))
		}
		for _, e := range s.Events {
			f.Events = append(f.Events, fmt.Sprintf("%s %d%s", e.Name, e.Time, kvString(e.Attrs)))
		}
		out = append(out, f)
	}
	return out
}
