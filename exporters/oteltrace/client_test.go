package oteltrace

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		opts ClientOptions
		env  map[string]string
		want clientConfig
		err  string
	}{
		{name: "defaults", want: clientConfig{defaultHTTPEndpoint, ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "grpc default", opts: ClientOptions{Protocol: "grpc"}, want: clientConfig{"http://localhost:4317", ProtocolGRPC, DefaultTimeout}},
		{name: "flag without path", opts: ClientOptions{Endpoint: "http://127.0.0.1:4318"}, want: clientConfig{"http://127.0.0.1:4318/v1/traces", ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "flag with path", opts: ClientOptions{Endpoint: "https://otel.example/ingest/traces"}, want: clientConfig{"https://otel.example/ingest/traces", ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "flag over env", opts: ClientOptions{Endpoint: "http://a:1"}, env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:2/x"}, want: clientConfig{"http://a:1/v1/traces", ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "base env joins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/otlp"}, want: clientConfig{"http://c:4318/otlp/v1/traces", ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "traces env as is", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://d:4318"}, want: clientConfig{"http://d:4318/", ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "grpc keeps host", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://e:4317/"}, want: clientConfig{"https://e:4317", ProtocolGRPC, DefaultTimeout}},
		{name: "traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, want: clientConfig{defaultHTTPEndpoint, ProtocolHTTPJSON, DefaultTimeout}},
		{name: "flag protocol wins", opts: ClientOptions{Protocol: "http/protobuf"}, env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, want: clientConfig{defaultHTTPEndpoint, ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "timeout env", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1500"}, want: clientConfig{defaultHTTPEndpoint, ProtocolHTTPProtobuf, 1500 * time.Millisecond}},
		{name: "traces timeout env", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "250"}, want: clientConfig{defaultHTTPEndpoint, ProtocolHTTPProtobuf, 250 * time.Millisecond}},
		{name: "timeout flag", opts: ClientOptions{Timeout: time.Second}, env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1500"}, want: clientConfig{defaultHTTPEndpoint, ProtocolHTTPProtobuf, time.Second}},
		{name: "bad protocol", opts: ClientOptions{Protocol: "thrift"}, err: `unknown otlp protocol "thrift"`},
		{name: "bad env protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "udp"}, err: `OTEL_EXPORTER_OTLP_PROTOCOL: unknown otlp protocol "udp"`},
		{name: "no scheme", opts: ClientOptions{Endpoint: "localhost:4318"}, err: `endpoint "localhost:4318": want a URL`},
		{name: "bad env endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, err: `OTEL_EXPORTER_OTLP_ENDPOINT: endpoint "ftp://x"`},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, err: `OTEL_EXPORTER_OTLP_TIMEOUT="10s": want a positive number of milliseconds`},
		{name: "bad compression", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, err: `OTEL_EXPORTER_OTLP_COMPRESSION="zstd": want gzip or none`},
		// QA: the SDK logged these and sent without them.
		{name: "headers", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-team=giltrace, Authorization=Bearer%20abc,"}, want: clientConfig{defaultHTTPEndpoint, ProtocolHTTPProtobuf, DefaultTimeout}},
		{name: "header without =", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-team=a,garbage"}, err: `OTEL_EXPORTER_OTLP_HEADERS: header 2: missing '='`},
		{name: "header key", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x team=a"}, err: `OTEL_EXPORTER_OTLP_TRACES_HEADERS: header 1: key "x team" is not an HTTP header name`},
		{name: "header value", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "token=s3cr%zz"}, err: `OTEL_EXPORTER_OTLP_HEADERS: header 1 (token): its value is not percent-encoded`},
		{name: "certificate", env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}, err: `OTEL_EXPORTER_OTLP_CERTIFICATE: open /nonexistent/ca.pem: no such file or directory`},
		{name: "huge timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "999999999999999"}, err: `want a positive number of milliseconds, at most 3600000 (an hour)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(tt.opts, func(k string) string { return tt.env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// clearOTLPEnv keeps the machine's OTEL_* settings out of a test.
func clearOTLPEnv(t *testing.T) {
	for _, k := range []string{"ENDPOINT", "PROTOCOL", "HEADERS", "TIMEOUT", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		t.Setenv("OTEL_EXPORTER_OTLP_"+k, "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_"+k, "")
	}
}

func newClient(t *testing.T, o ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

func exportTo(c *Client) error {
	return New(c, Options{}).Export(context.Background(), tracer.Derive(testkit.Countdown(3)))
}

// A collector that accepts OTLP/HTTP, checks what it receives, and counts spans.
func TestClientHTTP(t *testing.T) {
	for _, proto_ := range []string{ProtocolHTTPProtobuf, ProtocolHTTPJSON} {
		t.Run(proto_, func(t *testing.T) {
			clearOTLPEnv(t)
			t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=giltrace")
			var spans atomic.Int64
			var gotPath, gotType, gotTeam atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath.Store(r.URL.Path)
				gotType.Store(r.Header.Get("Content-Type"))
				gotTeam.Store(r.Header.Get("x-team"))
				body, _ := io.ReadAll(r.Body)
				if r.Header.Get("Content-Type") == "application/x-protobuf" {
					var req coltracepb.ExportTraceServiceRequest
					if err := proto.Unmarshal(body, &req); err != nil {
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
					for _, rs := range req.ResourceSpans {
						for _, ss := range rs.ScopeSpans {
							spans.Add(int64(len(ss.Spans)))
						}
					}
				} else {
					var req struct {
						ResourceSpans []struct {
							ScopeSpans []struct{ Spans []json.RawMessage }
						}
					}
					if err := json.Unmarshal(body, &req); err != nil {
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
					for _, rs := range req.ResourceSpans {
						for _, ss := range rs.ScopeSpans {
							spans.Add(int64(len(ss.Spans)))
						}
					}
				}
			}))
			defer srv.Close()
			c := newClient(t, ClientOptions{Endpoint: srv.URL, Protocol: proto_})
			if err := exportTo(c); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{ProtocolHTTPProtobuf: "application/x-protobuf", ProtocolHTTPJSON: "application/json"}[proto_]
			if gotPath.Load() != "/v1/traces" || gotType.Load() != want || gotTeam.Load() != "giltrace" {
				t.Errorf("request: path %v, content type %v, x-team %v", gotPath.Load(), gotType.Load(), gotTeam.Load())
			}
			if spans.Load() != 11 {
				t.Errorf("collector got %d spans, want 11", spans.Load())
			}
		})
	}
}

// closedPort is a 127.0.0.1 port that nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// checkFault exports to c and checks the error names the endpoint and the
// cause, within the timeout (plus slack for a busy machine).
func checkFault(t *testing.T, c *Client, cause string) {
	t.Helper()
	start := time.Now()
	err := exportTo(c)
	took := time.Since(start)
	if err == nil {
		t.Fatal("export succeeded")
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if !strings.Contains(msg, c.Endpoint()) || !strings.Contains(msg, cause) {
		t.Errorf("error %q: want the endpoint %s and %q", msg, c.Endpoint(), cause)
	}
	if took > c.timeout+3*time.Second {
		t.Errorf("took %v, timeout %v", took, c.timeout)
	}
}

func TestClientUnreachable(t *testing.T) {
	clearOTLPEnv(t)
	for _, p := range []string{ProtocolHTTPProtobuf, ProtocolGRPC} {
		t.Run(p, func(t *testing.T) {
			c := newClient(t, ClientOptions{Endpoint: "http://" + closedPort(t), Protocol: p, Timeout: 2 * time.Second})
			checkFault(t, c, "connection refused")
		})
	}
}

func TestClientRefusingHTTP(t *testing.T) {
	clearOTLPEnv(t)
	for _, tt := range []struct {
		code  int
		cause string
	}{
		{http.StatusForbidden, "403 Forbidden"},
		{http.StatusInternalServerError, "500 Internal Server Error"},
		{http.StatusServiceUnavailable, "collector overloaded"}, // retried until the timeout
	} {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "collector overloaded", tt.code)
			}))
			defer srv.Close()
			checkFault(t, newClient(t, ClientOptions{Endpoint: srv.URL, Timeout: 2 * time.Second}), tt.cause)
		})
	}
}

// A collector that accepts the connection and never answers.
func TestClientHanging(t *testing.T) {
	clearOTLPEnv(t)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	defer srv.Close()
	defer close(done)
	checkFault(t, newClient(t, ClientOptions{Endpoint: srv.URL, Timeout: time.Second}), "deadline exceeded")
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	err   error
	spans atomic.Int64
}

func (s *traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	if s.err != nil {
		return nil, s.err
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			s.spans.Add(int64(len(ss.Spans)))
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func serveGRPC(t *testing.T, svc *traceService) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, svc)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return "http://" + l.Addr().String()
}

func TestClientGRPC(t *testing.T) {
	clearOTLPEnv(t)
	svc := &traceService{}
	c := newClient(t, ClientOptions{Endpoint: serveGRPC(t, svc), Protocol: ProtocolGRPC})
	if err := exportTo(c); err != nil {
		t.Fatal(err)
	}
	if svc.spans.Load() != 11 {
		t.Errorf("collector got %d spans, want 11", svc.spans.Load())
	}
	// OTEL_EXPORTER_OTLP_PROTOCOL alone selects gRPC.
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.Endpoint())
	c2 := newClient(t, ClientOptions{})
	if c2.Protocol() != ProtocolGRPC {
		t.Fatalf("protocol %q", c2.Protocol())
	}
	if err := exportTo(c2); err != nil {
		t.Fatal(err)
	}
	if svc.spans.Load() != 22 {
		t.Errorf("collector got %d spans, want 22", svc.spans.Load())
	}
}

func TestClientRefusingGRPC(t *testing.T) {
	clearOTLPEnv(t)
	svc := &traceService{err: status.Error(codes.PermissionDenied, "tenant unknown")}
	c := newClient(t, ClientOptions{Endpoint: serveGRPC(t, svc), Protocol: ProtocolGRPC, Timeout: 2 * time.Second})
	checkFault(t, c, "PermissionDenied desc = tenant unknown")
}
