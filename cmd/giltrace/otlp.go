package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel"

	"github.com/giltrace/giltrace/exporters/oteltrace"
	"github.com/giltrace/giltrace/tracer"
)

// otlpOptions are the OTLP settings of export --format otlp and record
// --otlp. Empty values fall back to the OTEL_EXPORTER_OTLP_* environment,
// then to oteltrace's defaults.
type otlpOptions struct {
	Endpoint      string        // collector URL; "" is the environment's or http://localhost:4318
	Protocol      string        // http/protobuf, http/json or grpc
	WaitThreshold time.Duration // shortest wait with its own span; 0 is oteltrace's default
	SpanBudget    int           // most spans per trace; 0 is oteltrace's default
}

// otlpFormat is the export format that sends the run to a collector
// rather than writing a file.
const otlpFormat = "otlp"

// otlpDefault is the value of a bare --otlp: the environment's endpoint,
// else the specification's default.
const otlpDefault = "default"

// otlpFlags are the flags addOTLPFlags adds.
var otlpFlags = []string{"endpoint", "protocol", "wait-threshold", "span-budget"}

// addOTLPFlags adds --endpoint, --protocol, --wait-threshold and
// --span-budget to f, for export --format otlp.
func addOTLPFlags(f *pflag.FlagSet, o *otlpOptions) {
	f.StringVar(&o.Endpoint, "endpoint", "", "with --format otlp: the collector's `URL` (default OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, else http://localhost:4318, or :4317 for grpc)")
	f.StringVar(&o.Protocol, "protocol", "", "with --format otlp: `PROTOCOL`: http/protobuf, http/json or grpc (default OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL, else http/protobuf)")
	f.DurationVar(&o.WaitThreshold, "wait-threshold", 0, fmt.Sprintf("with --format otlp: the shortest GIL wait exported as its own span (default %v)", oteltrace.DefaultWaitThreshold))
	f.IntVar(&o.SpanBudget, "span-budget", 0, fmt.Sprintf("with --format otlp: the most spans in the trace, beyond which waits and calls fold into their parents (default %d)", oteltrace.DefaultSpanBudget))
}

// checkExportOTLP checks the OTLP flags of giltrace export: valid with
// --format otlp, absent with the other formats, and no -o with otlp.
func checkExportOTLP(cmd *cobra.Command, o *exportOptions) error {
	if o.Format != otlpFormat {
		for _, name := range otlpFlags {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s applies to --format otlp only", name)
			}
		}
		return nil
	}
	if o.Out != "" {
		return errors.New("--out does not apply to --format otlp: the run goes to the collector (--endpoint)")
	}
	// 0 is their default (oteltrace's): an explicit 0 would not mean
	// "every wait" or "no spans", so it is refused rather than ignored.
	if cmd.Flags().Changed("wait-threshold") && o.OTLP.WaitThreshold == 0 {
		return fmt.Errorf("--wait-threshold 0s: expected a positive duration such as 500us (default %v)", oteltrace.DefaultWaitThreshold)
	}
	if cmd.Flags().Changed("span-budget") && o.OTLP.SpanBudget == 0 {
		return fmt.Errorf("--span-budget 0: expected at least 1 (default %d)", oteltrace.DefaultSpanBudget)
	}
	return o.OTLP.check()
}

// exportFormatNames lists export's formats: the local outputs, then otlp.
func exportFormatNames() string { return outputNames() + ", " + otlpFormat }

// check rejects values no collector could accept, the endpoint and the
// OTEL_EXPORTER_OTLP_* environment included.
func (o *otlpOptions) check() error {
	switch o.Protocol {
	case "", oteltrace.ProtocolHTTPProtobuf, oteltrace.ProtocolHTTPJSON, oteltrace.ProtocolGRPC:
	default:
		return fmt.Errorf("--protocol %q: expected http/protobuf, http/json or grpc", o.Protocol)
	}
	if o.WaitThreshold < 0 {
		return fmt.Errorf("--wait-threshold %v: expected a positive duration", o.WaitThreshold)
	}
	if o.SpanBudget < 0 {
		return fmt.Errorf("--span-budget %d: expected at least 1", o.SpanBudget)
	}
	// The endpoint and the environment, before anything runs.
	return oteltrace.CheckClientOptions(oteltrace.ClientOptions{Endpoint: o.Endpoint, Protocol: o.Protocol})
}

// sendOTLP sends the run of spans s (with its warnings, report.Warnings)
// as one trace to the collector o designates and reports
// it on w. It returns the first error: the client's (naming the endpoint
// and the cause), the exporter's, or one the SDK reported to the global
// OpenTelemetry error handler meanwhile, which is captured rather than
// logged.
func sendOTLP(ctx context.Context, s *tracer.Spans, warnings []string, o *otlpOptions, w io.Writer) (err error) {
	handled := captureOTelErrors()
	defer func() { err = errors.Join(err, handled()) }()
	c, err := oteltrace.NewClient(ctx, oteltrace.ClientOptions{Endpoint: o.Endpoint, Protocol: o.Protocol})
	if err != nil {
		return err
	}
	exp := oteltrace.New(c, oteltrace.Options{WaitThreshold: o.WaitThreshold, SpanBudget: o.SpanBudget, Warnings: warnings})
	err = exp.Export(ctx, s)
	// Shutdown closes the connection; bounded so that a stuck collector
	// cannot hold the command.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := errors.Join(err, c.Shutdown(sctx)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "otlp: sent trace %s to %s (%s)\n", oteltrace.TraceID(s.Trace), c.Endpoint(), c.Protocol())
	return err
}

// otelErrors receives what the OpenTelemetry SDK reports to its global
// error handler. The handler is global and cannot be uninstalled (the SDK's
// default forwards to the first handler ever set), so one is installed
// once and captures into the current list, if any.
var otelErrors struct {
	once sync.Once
	mu   sync.Mutex
	errs *[]error // nil: no capture under way, log
}

// captureOTelErrors captures the errors the OpenTelemetry SDK reports to
// its global handler (by default only logged) until the returned function
// is called, which returns them. Captures do not nest.
func captureOTelErrors() func() error {
	otelErrors.once.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			otelErrors.mu.Lock()
			defer otelErrors.mu.Unlock()
			if otelErrors.errs == nil {
				log.Printf("giltrace: opentelemetry: %s", oteltrace.RedactText(err.Error()))
				return
			}
			// The SDK's messages may carry the endpoint's credentials.
			*otelErrors.errs = append(*otelErrors.errs, fmt.Errorf("opentelemetry: %s", oteltrace.RedactText(err.Error())))
		}))
	})
	var errs []error
	otelErrors.mu.Lock()
	otelErrors.errs = &errs
	otelErrors.mu.Unlock()
	return func() error {
		otelErrors.mu.Lock()
		defer otelErrors.mu.Unlock()
		otelErrors.errs = nil
		return errors.Join(errs...)
	}
}
