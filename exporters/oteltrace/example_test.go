package oteltrace_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	sdktracetest "go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/giltrace/giltrace/exporters/oteltrace"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// Export a run to the SDK's in-memory exporter and print its spans, indented
// under their parents.
func Example() {
	mem := sdktracetest.NewInMemoryExporter()
	run := testkit.Countdown(1)
	if err := oteltrace.New(mem, oteltrace.Options{}).Export(context.Background(), tracer.Derive(run)); err != nil {
		log.Fatal(err)
	}
	depth := map[string]int{}
	for _, s := range mem.GetSpans() {
		d := 0
		if s.Parent.IsValid() {
			d = depth[s.Parent.SpanID().String()] + 1
		}
		depth[s.SpanContext.SpanID().String()] = d
		fmt.Printf("%s%s %v\n", strings.Repeat("  ", d), s.Name, s.EndTime.Sub(s.StartTime))
	}
	// Output:
	// run countdown 10.20003ms
	//   thread T1 10.20003ms
	//     main 10.19999ms
	//       count 10.19997ms
	//         gil wait 3.10005ms
	//   thread T2 8.200025ms
	//     main 3ms
	//       count 2.99998ms
	//     gil wait 5.199995ms
}

// Send a run to the collector of the OTEL_EXPORTER_OTLP_* environment, else
// to http://localhost:4318.
func ExampleNewClient() {
	ctx := context.Background()
	c, err := oteltrace.NewClient(ctx, oteltrace.ClientOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(ctx)
	if err := oteltrace.New(c, oteltrace.Options{}).Export(ctx, tracer.Derive(testkit.Countdown(1))); err != nil {
		log.Fatal(err) // names the endpoint and the cause
	}
}
