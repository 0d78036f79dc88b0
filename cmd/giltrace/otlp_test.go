package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"

	"github.com/giltrace/giltrace/exporters/oteltrace"
	"github.com/giltrace/giltrace/internal/jaegertest"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func TestRecordOTLPArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"w.yaml"}, ""},
		{[]string{"w.yaml", "--otlp"}, otlpDefault},
		{[]string{"--otlp", "w.yaml"}, otlpDefault},
		{[]string{"w.yaml", "--otlp=http://127.0.0.1:4318"}, "http://127.0.0.1:4318"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *recordOptions
			cmd := recordCmd(func(_ *cobra.Command, o *recordOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(&strings.Builder{})
			cmd.SetErr(&strings.Builder{})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.OTLP != tc.want || got.Workload != "w.yaml" {
				t.Errorf("OTLP %q, workload %q; want %q", got.OTLP, got.Workload, tc.want)
			}
			oo := got.otlp()
			if wantEndpoint := strings.TrimPrefix(tc.want, otlpDefault); oo.Endpoint != wantEndpoint || oo.check() != nil {
				t.Errorf("otlp options %+v (check %v), want endpoint %q", oo, oo.check(), wantEndpoint)
			}
		})
	}
}

func TestOTLPOptionsCheck(t *testing.T) {
	ok := otlpOptions{WaitThreshold: time.Millisecond, SpanBudget: 10}
	for _, tc := range []struct {
		change func(*otlpOptions)
		err    string
	}{
		{func(o *otlpOptions) {}, ""},
		{func(o *otlpOptions) { o.Protocol = "grpc" }, ""},
		{func(o *otlpOptions) { o.Protocol = "thrift" }, `--protocol "thrift"`},
		{func(o *otlpOptions) { o.WaitThreshold, o.SpanBudget = 0, 0 }, ""}, // the defaults
		{func(o *otlpOptions) { o.WaitThreshold = -time.Millisecond }, "--wait-threshold -1ms"},
		{func(o *otlpOptions) { o.SpanBudget = -3 }, "--span-budget -3"},
	} {
		o := ok
		tc.change(&o)
		err := o.check()
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: err %v, want %q", o, err, tc.err)
		}
	}
}

// Errors the SDK sends to the global handler come back from the capture.
func TestCaptureOTelErrors(t *testing.T) {
	done := captureOTelErrors()
	otel.Handle(errors.New("exporter shut down twice"))
	if err := done(); err == nil || !strings.Contains(err.Error(), "exporter shut down twice") {
		t.Errorf("captured %v", err)
	}
	done = captureOTelErrors()
	if err := done(); err != nil {
		t.Errorf("a new capture starts empty: %v", err)
	}
}

// clearOTLPEnv keeps the machine's OTEL_* settings out of a test.
func clearOTLPEnv(t *testing.T) {
	for _, k := range []string{"ENDPOINT", "PROTOCOL", "HEADERS", "TIMEOUT", "COMPRESSION"} {
		t.Setenv("OTEL_EXPORTER_OTLP_"+k, "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_"+k, "")
	}
}

// A collector that refuses connections: record still writes the trace and
// prints the report, then fails naming the endpoint and the cause.
func TestRecordOTLPUnreachable(t *testing.T) {
	clearOTLPEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc") // gRPC retries until the timeout
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1500")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()

	dir := t.TempDir()
	start := time.Now()
	out, err := runRoot("record", writeWorkload(t, small), "-o", dir, "--threads", "1", "--otlp="+endpoint)
	took := time.Since(start)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("err = %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{"sending it over OTLP failed", endpoint, "connection refused", "otlp grpc, timeout 1.5s",
		"giltrace export " + filepath.Join(dir, traceName) + " --format otlp --endpoint " + endpoint + " sends it again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !strings.Contains(out, "cpu") || !strings.Contains(out, "trace: ") {
		t.Errorf("no report printed:\n%s", out)
	}
	if _, err := tracer.ReadFile(filepath.Join(dir, "run.giltrace")); err != nil {
		t.Errorf("trace not written: %v", err)
	}
	if took > 30*time.Second {
		t.Errorf("took %v with a 1.5s timeout", took)
	}
}

// A password in --otlp is shown nowhere, the hint that sends the run
// again included (QA: it printed the endpoint as given).
func TestRecordOTLPCredentialsHidden(t *testing.T) {
	clearOTLPEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1500")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	out, err := runRoot("record", writeWorkload(t, small), "-o", dir, "--threads", "1", "--otlp=http://someone:s3cret-pw@"+addr)
	if err == nil {
		t.Fatalf("sent to a closed port\n%s", out)
	}
	if strings.Contains(err.Error()+out, "s3cret-pw") || strings.Contains(err.Error()+out, "someone") {
		t.Errorf("the credentials are shown:\n%v\n%s", err, out)
	}
	want := "--format otlp --endpoint http://REDACTED@" + addr + " (with --otlp's credentials in place of REDACTED) sends it again"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks %q: %v", want, err)
	}
}

// record --otlp sends a real run to a real Jaeger.
func TestRecordOTLPJaeger(t *testing.T) {
	if testing.Short() && !jaegertest.InCI() {
		t.Skip("starts Jaeger; not with -short")
	}
	clearOTLPEnv(t)
	j := jaegertest.Start(t)
	t.Setenv("OTEL_SERVICE_NAME", "giltrace-record-test")
	dir := t.TempDir()
	out, err := runRoot("record", writeWorkload(t, small), "-o", dir, "--otlp="+j.OTLPHTTP)
	if err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	if !strings.Contains(out, "otlp: sent trace ") || !strings.Contains(out, j.OTLPHTTP+"/v1/traces (http/protobuf)") {
		t.Errorf("output lacks the otlp line:\n%s", out)
	}
	tr, err := tracer.ReadFile(filepath.Join(dir, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	// 1 root, 3 threads, and each handler's 3 calls of handle at least.
	spans, err := j.WaitSpans(context.Background(), "giltrace-record-test", tr.Meta.Start.Add(-time.Minute), tr.Meta.Start.Add(time.Minute), 1+3+6, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var root *jaegertest.Span
	for i, s := range spans {
		counts[s.Name]++
		if s.ParentSpanID == "" {
			root = &spans[i]
		}
	}
	if root == nil || root.Name != "run small" || counts["handle"] < 6 || counts["thread handler-1"] != 1 || counts["thread cpu"] != 1 {
		t.Fatalf("spans by name %v", counts)
	}
	if root.Start != tr.Meta.Start.UnixNano() || root.Attrs["giltrace.workload.file"] == "" || root.Attrs["giltrace.gil_mode"] != "cpython" {
		t.Errorf("root %+v, want the run's start %d", root, tr.Meta.Start.UnixNano())
	}
}

func TestExportOTLPArgs(t *testing.T) {
	tests := []struct {
		args  []string
		want  *exportOptions
		usage string
	}{
		{[]string{"run.giltrace", "--format", "otlp"}, &exportOptions{File: "run.giltrace", Format: "otlp"}, ""},
		{[]string{"run.giltrace", "-f", "otlp", "--endpoint", "http://c:4317", "--protocol", "grpc", "--wait-threshold", "500us", "--span-budget", "50"},
			&exportOptions{File: "run.giltrace", Format: "otlp", OTLP: otlpOptions{Endpoint: "http://c:4317", Protocol: "grpc", WaitThreshold: 500 * time.Microsecond, SpanBudget: 50}}, ""},
		{[]string{"run.giltrace", "--format", "otlp", "-o", "x"}, nil, "--out does not apply to --format otlp"},
		{[]string{"run.giltrace", "--format", "chrome", "--endpoint", "http://c:4318"}, nil, "--endpoint applies to --format otlp only"},
		{[]string{"run.giltrace", "--format", "folded", "--span-budget", "5"}, nil, "--span-budget applies to --format otlp only"},
		{[]string{"run.giltrace", "--format", "otlp", "--protocol", "thrift"}, nil, `--protocol "thrift"`},
		{[]string{"run.giltrace", "--format", "otlp", "--span-budget", "-1"}, nil, "--span-budget -1"},
		{[]string{"run.giltrace", "--format", "otlp", "--wait-threshold", "-1ms"}, nil, "--wait-threshold -1ms"},
		{[]string{"run.giltrace", "--format", "otlp", "--span-budget", "0"}, nil, "--span-budget 0: expected at least 1"},
		{[]string{"run.giltrace", "--format", "otlp", "--wait-threshold", "0"}, nil, "--wait-threshold 0s: expected a positive duration"},
		{[]string{"run.giltrace", "--format", "otpl"}, nil, `unknown format "otpl" (formats: pprof-wait, pprof-blame, pprof-wall, chrome, folded, flamegraph, report, report-json, perfetto, text, otlp)`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *exportOptions
			cmd := exportCmd(func(_ *cobra.Command, o *exportOptions) error { got = o; return nil })
			cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
			cmd.SetArgs(tc.args)
			cmd.SetOut(&strings.Builder{})
			cmd.SetErr(&strings.Builder{})
			err := cmd.Execute()
			if tc.usage != "" {
				if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.usage) {
					t.Fatalf("err = %v, want a usage error with %q", err, tc.usage)
				}
				return
			}
			if err != nil || *got != *tc.want {
				t.Fatalf("options %+v, err %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// export --format otlp of a recorded fixture to a local OTLP/HTTP collector;
// of a file cut off mid-write (its complete part, with a warning); and to a
// closed port (exit 1, the endpoint and the cause).
func TestExportOTLP(t *testing.T) {
	clearOTLPEnv(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			requests.Add(1)
		}
	}))
	defer srv.Close()
	fixture := filepath.Join("..", "..", "fixtures", "traces", "convoy.giltrace")
	if _, err := os.Stat(fixture); err != nil {
		fixture, _ = writeTrace(t, testkit.Mixed())
	}
	tr, err := tracer.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("export", fixture, "--format", "otlp", "--endpoint", srv.URL, "--span-budget", "100")
	want := "otlp: sent trace " + oteltrace.TraceID(tr) + " to " + srv.URL + "/v1/traces (http/protobuf)\n"
	if err != nil || out != want || requests.Load() != 1 {
		t.Errorf("export: %q, %v after %d requests; want %q after 1", out, err, requests.Load(), want)
	}

	// A cut file sends its complete part: a trace of several event
	// records (the fixture's events are all in one, which a cut loses:
	// nothing to export, and nothing is sent).
	_, b := writeTrace(t, testkit.Turns(20_000))
	cut := filepath.Join(t.TempDir(), "cut.giltrace")
	if err := os.WriteFile(cut, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot("export", cut, "--format", "otlp", "--endpoint", srv.URL)
	if err != nil || !strings.Contains(out, "exporting the complete part") || !strings.Contains(out, "otlp: sent trace ") || requests.Load() < 2 {
		t.Errorf("export of a cut file: %q, %v after %d requests", out, err, requests.Load())
	}
	sent := requests.Load()
	fb, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, fb[:len(fb)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot("export", cut, "--format", "otlp", "--endpoint", srv.URL)
	if err == nil || !strings.Contains(err.Error(), "nothing to export") || requests.Load() != sent {
		t.Errorf("export of a file cut before its events: %q, %v after %d requests, want nothing to export and no request", out, err, requests.Load())
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	out, err = runRoot("export", fixture, "--format", "otlp", "--endpoint", closed)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), closed+"/v1/traces") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("export to a closed port: %q, %v", out, err)
	}
}
