package oteltrace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/giltrace/giltrace/tracer"
)

// DefaultWaitThreshold is the shortest wait that gets its own span when
// Options.WaitThreshold is 0: 1 ms, a fifth of CPython's default switch
// interval, so every wait that reached a drop request shows.
const DefaultWaitThreshold = time.Millisecond

// DefaultSpanBudget bounds the spans of a trace when Options.SpanBudget is
// 0: Jaeger's UI stays responsive up to a few thousand spans per trace.
const DefaultSpanBudget = 2000

// DefaultServiceName is service.name when neither Options.ServiceName nor
// OTEL_SERVICE_NAME says otherwise.
const DefaultServiceName = "giltrace"

// batchSize is the number of spans sent per OTLP request: 512, the SDK
// batch processor's default, well under a collector's 4 MiB gRPC message
// limit.
const batchSize = 512

// maxEvents bounds the events of one span and maxLinks the links of one
// wait span (128 and 32, the SDK's and half of it); the rest are counted in
// giltrace.folded.events and giltrace.folded.links.
const (
	maxEvents = 128
	maxLinks  = 32
	// maxBlameParts bounds the blame parts walked per wait to find its
	// links: 8 per link. A wait behind more holders than that (hundreds
	// of threads queueing) links the holders of its first parts.
	maxBlameParts = 8 * maxLinks
)

// scopeName is the instrumentation scope of the exported spans.
const scopeName = "github.com/giltrace/giltrace/exporters/oteltrace"

// Options configures an Exporter. The zero value uses the defaults.
type Options struct {
	// WaitThreshold is the shortest wait exported as its own span; shorter
	// ones only count in their parent's attributes. 0 means
	// DefaultWaitThreshold.
	WaitThreshold time.Duration
	// SpanBudget bounds the spans of the trace (the root and thread spans
	// are always sent, even beyond it). 0 means DefaultSpanBudget.
	SpanBudget int
	// ServiceName is the resource's service.name. "" means
	// OTEL_SERVICE_NAME, else DefaultServiceName.
	ServiceName string
	// Warnings are what distorts the run's figures (exporters/report.Warnings:
	// a busy machine, a real program's tracing cost): the run span gets
	// them as giltrace.warnings, and an event giltrace.warning each.
	Warnings []string
}

// Exporter sends runs as OpenTelemetry traces to a span exporter (an OTLP
// client from NewClient, or the SDK's in-memory exporter in tests).
//
// Export may be called concurrently if the span exporter allows it.
type Exporter struct {
	exp  sdktrace.SpanExporter
	opts Options
}

// New returns an Exporter sending to exp. It does not take ownership of
// exp: the caller shuts it down.
func New(exp sdktrace.SpanExporter, opts Options) *Exporter {
	if opts.WaitThreshold <= 0 {
		opts.WaitThreshold = DefaultWaitThreshold
	}
	if opts.SpanBudget <= 0 {
		opts.SpanBudget = DefaultSpanBudget
	}
	return &Exporter{exp: exp, opts: opts}
}

// Export sends the run of the spans s (tracer.Derive of a trace) as one
// trace, synchronously, in batches of 512 spans. It returns the first
// export error (the exporter's, which names the endpoint), after which
// nothing more is sent.
//
// Outline:
//  1. Plan which calls and waits get spans (budget).
//  2. Start and end every span through an SDK TracerProvider whose ID
//     generator takes the deterministic IDs and whose only processor
//     collects the ended spans.
//  3. Send the collected spans in batches, checking each error.
func (e *Exporter) Export(ctx context.Context, s *tracer.Spans) error {
	t := s.Trace
	if t.Meta.Start.IsZero() {
		return errors.New("oteltrace: the trace has no start time")
	}
	res, err := e.resource(ctx, t)
	if err != nil {
		return err
	}
	b := newBuilder(s, newPlan(s, int64(e.opts.WaitThreshold), e.opts.SpanBudget), e.opts)

	col := &collector{}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithRawSpanLimits(spanLimits()),
		sdktrace.WithSpanProcessor(col),
	)
	defer tp.Shutdown(context.WithoutCancel(ctx)) // only the collector: no I/O
	tr := tp.Tracer(scopeName, trace.WithInstrumentationVersion(t.Meta.Version), trace.WithSchemaURL(semconv.SchemaURL))

	w := &sender{exp: e.exp, total: b.count()}
	err = b.build(func(sp *spec) error {
		startSpan(ctx, tr, b.tid, t.Meta.Start, sp)
		if len(col.spans) >= batchSize {
			return w.send(ctx, col.take())
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.send(ctx, col.take())
}

// spanLimits lifts the SDK's per-span caps on events and links: the
// exporter applies its own (maxEvents, maxLinks) and counts what it folds,
// where the SDK would drop silently.
func spanLimits() sdktrace.SpanLimits {
	l := sdktrace.NewSpanLimits()
	l.EventCountLimit = -1
	l.LinkCountLimit = -1
	l.AttributeValueLengthLimit = -1
	return l
}

// resource is service.name (Options, OTEL_SERVICE_NAME, or giltrace), the
// attributes of OTEL_RESOURCE_ATTRIBUTES, and the SDK's.
func (e *Exporter) resource(ctx context.Context, t *tracer.Trace) (*resource.Resource, error) {
	opts := []resource.Option{
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(DefaultServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	}
	if t.Meta.Version != "" {
		opts = append(opts, resource.WithAttributes(semconv.ServiceVersion(t.Meta.Version)))
	}
	if e.opts.ServiceName != "" {
		opts = append(opts, resource.WithAttributes(semconv.ServiceName(e.opts.ServiceName)))
	}
	res, err := resource.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("oteltrace: building the resource (OTEL_RESOURCE_ATTRIBUTES=%q): %w", os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), err)
	}
	return res, nil
}

// startSpan starts and ends the span sp with its recorded times.
func startSpan(ctx context.Context, tr trace.Tracer, tid trace.TraceID, start time.Time, sp *spec) {
	at := func(ns int64) time.Time { return start.Add(time.Duration(ns)) }
	ctx = context.WithValue(ctx, idKey{}, spanIDs{trace: tid, span: spanIDFor(tid, sp.ref)})
	opts := []trace.SpanStartOption{
		trace.WithTimestamp(at(sp.start)),
		trace.WithAttributes(sp.attrs...),
		trace.WithLinks(sp.links...),
		trace.WithSpanKind(trace.SpanKindInternal),
	}
	if sp.ref == rootRef {
		opts = append(opts, trace.WithNewRoot())
	} else {
		ctx = trace.ContextWithSpanContext(ctx, spanContext(tid, sp.parent))
	}
	_, span := tr.Start(ctx, sp.name, opts...)
	for _, ev := range sp.events {
		span.AddEvent(ev.name, trace.WithTimestamp(at(ev.time)), trace.WithAttributes(ev.attrs...))
	}
	span.End(trace.WithTimestamp(at(sp.end)))
}

func spanContext(tid trace.TraceID, r ref) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    tid,
		SpanID:     spanIDFor(tid, r),
		TraceFlags: trace.FlagsSampled,
	})
}

// collector is the TracerProvider's only span processor: it keeps the
// ended spans until the exporter sends them. Spans are ended by Export's
// goroutine only, so it needs no lock.
type collector struct{ spans []sdktrace.ReadOnlySpan }

func (c *collector) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *collector) OnEnd(s sdktrace.ReadOnlySpan)                   { c.spans = append(c.spans, s) }
func (c *collector) Shutdown(context.Context) error                  { return nil }
func (c *collector) ForceFlush(context.Context) error                { return nil }

func (c *collector) take() []sdktrace.ReadOnlySpan {
	s := c.spans
	c.spans = nil
	return s
}

// sender sends batches and numbers them in errors.
type sender struct {
	exp   sdktrace.SpanExporter
	sent  int
	total int
}

func (w *sender) send(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	if err := w.exp.ExportSpans(ctx, spans); err != nil {
		return fmt.Errorf("exporting spans %d-%d of %d: %w", w.sent+1, w.sent+len(spans), w.total, err)
	}
	w.sent += len(spans)
	return nil
}

// Attribute keys of the run, the budget and folding.
const (
	keyWorkload       = attribute.Key("giltrace.workload")
	keyWorkloadFile   = attribute.Key("giltrace.workload.file")
	keyGILMode        = attribute.Key("giltrace.gil_mode")
	keySwitchInterval = attribute.Key("giltrace.switch_interval_ns")
	keyCheckInterval  = attribute.Key("giltrace.check_interval")
	keyProcesses      = attribute.Key("giltrace.processes")
	keyProcessNames   = attribute.Key("giltrace.process.names")
	keyProcessPIDs    = attribute.Key("giltrace.process.pids")
	keyThreads        = attribute.Key("giltrace.threads")
	keyCores          = attribute.Key("giltrace.cores")
	keyGOMAXPROCS     = attribute.Key("giltrace.gomaxprocs")
	keyVersion        = attribute.Key("giltrace.version")
	keyClock          = attribute.Key("giltrace.clock")  // real, or virtual (simulated)
	keySeed           = attribute.Key("giltrace.seed")   // a simulated run's seed
	keySource         = attribute.Key("giltrace.source") // cpython for a real program
	// keyWarnings: what distorts the run's figures (Options.Warnings), on
	// the root span, each also an event "giltrace.warning" at the run's
	// start.
	keyWarnings      = attribute.Key("giltrace.warnings")
	keyMessage       = attribute.Key("message")
	keyEventsDropped = attribute.Key("giltrace.events_dropped")
	keyTruncated     = attribute.Key("giltrace.truncated")
	keyThreshold     = attribute.Key("giltrace.wait_threshold_ns")
	keyBudget        = attribute.Key("giltrace.span_budget")
	keyFoldedCalls   = attribute.Key("giltrace.folded.calls")
	keyFoldedWaits   = attribute.Key("giltrace.folded.waits")
	keyFoldedEvents  = attribute.Key("giltrace.folded.events")
	keyFoldedLinks   = attribute.Key("giltrace.folded.links")
	keyProcessName   = attribute.Key("giltrace.process.name")
	keyEnded         = attribute.Key("giltrace.thread.ended")
	keyDepth         = attribute.Key("giltrace.call.depth")
	keyLock          = attribute.Key("giltrace.lock")
	keyIsGIL         = attribute.Key("giltrace.lock.gil")
	keyAcquired      = attribute.Key("giltrace.wait.acquired")
	keyHow           = attribute.Key("giltrace.wait.acquire")
	keyUnheld        = attribute.Key("gil.unheld_ns")
	keyUnheldAs      = attribute.Key("giltrace.wait.unheld")
	keyNativeHolding = attribute.Key("giltrace.native_holding_ns")
	keySegments      = attribute.Key("giltrace.blame.segments")
	keyHolderID      = attribute.Key("giltrace.holder.thread.id")
	keyHolderName    = attribute.Key("giltrace.holder.thread.name")
	keyToID          = attribute.Key("giltrace.to.thread.id")
	keyToName        = attribute.Key("giltrace.to.thread.name")
	keyHandoff       = attribute.Key("gil.handoff_ns")
	keyHeld          = attribute.Key("gil.held_ns")
)
