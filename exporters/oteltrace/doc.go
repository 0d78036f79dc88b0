// Package oteltrace exports a giltrace run as one OpenTelemetry trace, sent
// over OTLP (HTTP/protobuf, HTTP/JSON or gRPC) to a collector such as
// Jaeger, so that the run sits next to a team's other traces.
//
// # Spans
//
// One trace per run:
//
//   - the root span is the run ("run <workload>"), from the recorded start
//     time to the end of the last event, with the workload, GIL mode,
//     switch interval and processes as attributes;
//   - a span per thread ("thread <name>"), child of the root;
//   - a span per guest call (named for the function), under its thread or
//     the call it was made from;
//   - a span for every wait for a lock (the GIL, or a guest lock) of at
//     least Options.WaitThreshold, under the innermost call it happened
//     in, with a link to each span of a thread that held the lock during
//     the wait (the holder's innermost call at that moment, or its thread).
//
// Shorter waits, and the totals of every state, roll up into attributes of
// the thread and call spans (gil.wait_ns, gil.held_ns, io_ns, native_ns,
// gil.acquisitions, gil.drop_requests, ...), counted over the span's own
// interval, nested calls included. Drop requests are events on the
// requester's span (its wait span when it has one); forced switches (a
// release on a drop request) are events on the releasing thread's span.
//
// # Budget
//
// Jaeger's UI slows past a few thousand spans per trace, so a trace gets at
// most Options.SpanBudget spans. The root and the thread spans are always
// sent; calls and long waits share the rest, each getting at least half
// when both overflow. Calls are kept shallowest first (then longest), so a
// kept call's caller is kept too; waits are kept longest first. A folded
// call or wait leaves its time in its parent's roll-up attributes, and is
// counted in the parent's giltrace.folded.calls or giltrace.folded.waits
// and in the root's.
//
// # Determinism
//
// Timestamps are the run's own: Meta.Start plus the events' offsets. The
// trace ID is derived from the run (start time, workload, GIL mode,
// duration, event count) and each span ID from the trace ID and the span's
// place in the trace, so exporting the same file twice sends the same IDs:
// a backend sees the same trace, not a new one. The wall clock is never
// read.
package oteltrace
