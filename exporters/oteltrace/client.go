package oteltrace

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTLP protocols, named as in OTEL_EXPORTER_OTLP_PROTOCOL.
const (
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolGRPC         = "grpc"
)

// DefaultTimeout bounds one export request, retries included, when neither
// ClientOptions.Timeout nor OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT is set: 10
// s, the OTLP exporter specification's default.
const DefaultTimeout = 10 * time.Second

// Default endpoints of the OTLP specification, per protocol.
const (
	defaultHTTPEndpoint = "http://localhost:4318/v1/traces"
	defaultGRPCEndpoint = "http://localhost:4317"
	tracesPath          = "/v1/traces"
)

// ClientOptions says where and how to send spans. Empty fields fall back to
// the OTEL_EXPORTER_OTLP_* environment, then to the specification's
// defaults. The SDK reads the rest of the environment itself (headers,
// compression, certificates).
type ClientOptions struct {
	// Endpoint is the collector's URL, http:// (insecure) or https://. For
	// OTLP/HTTP a URL without a path gets /v1/traces, as
	// OTEL_EXPORTER_OTLP_ENDPOINT does; a URL with a path is used as is.
	// "" means OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is), else
	// OTEL_EXPORTER_OTLP_ENDPOINT (plus /v1/traces for HTTP), else
	// http://localhost:4318/v1/traces or, for gRPC, http://localhost:4317.
	Endpoint string
	// Protocol is "http/protobuf", "http/json" or "grpc". "" means
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
	// else http/protobuf.
	Protocol string
	// Timeout bounds each export request, retries included. 0 means
	// OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT
	// (milliseconds), else DefaultTimeout.
	Timeout time.Duration
}

// Client is an OTLP span exporter whose errors name the endpoint and the
// protocol. It may be used concurrently.
type Client struct {
	exp      sdktrace.SpanExporter
	endpoint string
	shown    string // endpoint without its credentials, for messages
	protocol string
	timeout  time.Duration
}

var _ sdktrace.SpanExporter = (*Client)(nil)

// CheckClientOptions checks o and the OTEL_EXPORTER_OTLP_* environment as
// NewClient does, without making a client: a command checks its flags
// before a run rather than after it.
func CheckClientOptions(o ClientOptions) error {
	_, err := resolve(o, os.Getenv)
	return err
}

// NewClient returns a client for the collector o designates. It checks the
// configuration but does not connect: the first export does.
func NewClient(ctx context.Context, o ClientOptions) (*Client, error) {
	cfg, err := resolve(o, os.Getenv)
	if err != nil {
		return nil, err
	}
	c := &Client{endpoint: cfg.endpoint, shown: Redact(cfg.endpoint), protocol: cfg.protocol, timeout: cfg.timeout}
	// The SDK keeps only an endpoint URL's scheme, host and path: its
	// user:password@ goes as HTTP basic authentication, beside the
	// OTEL_EXPORTER_OTLP_[TRACES_]HEADERS that an explicit header option
	// would otherwise replace (QA: the credentials were dropped, the
	// message saying they were used).
	endpoint, headers := withoutUserinfo(cfg.endpoint, os.Getenv)
	switch cfg.protocol {
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpointURL(endpoint),
			otlptracegrpc.WithTimeout(cfg.timeout),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig(retry(cfg.timeout))),
		}
		if headers != nil {
			opts = append(opts, otlptracegrpc.WithHeaders(headers))
		}
		c.exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		enc := otlptracehttp.EncodingProtobuf
		if cfg.protocol == ProtocolHTTPJSON {
			enc = otlptracehttp.EncodingJSON
		}
		opts := []otlptracehttp.Option{
			otlptracehttp.WithEndpointURL(endpoint),
			otlptracehttp.WithEncoding(enc),
			otlptracehttp.WithTimeout(cfg.timeout),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig(retry(cfg.timeout))),
		}
		if headers != nil {
			opts = append(opts, otlptracehttp.WithHeaders(headers))
		}
		c.exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, c.sanitize(fmt.Errorf("otlp %s client for %s: %w", cfg.protocol, c.shown, err))
	}
	return c, nil
}

// withoutUserinfo returns endpoint without its user:password@ and, when it
// had one, the headers to send: the environment's
// (OTEL_EXPORTER_OTLP_TRACES_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS:
// key=value pairs separated by commas, values percent-encoded) and an
// Authorization header of HTTP basic authentication, which replaces
// theirs. nil headers: the SDK reads the environment's itself.
func withoutUserinfo(endpoint string, getenv func(string) string) (string, map[string]string) {
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return endpoint, nil
	}
	headers := map[string]string{}
	env := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS"))
	if env == "" {
		env = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_HEADERS"))
	}
	for _, kv := range strings.Split(env, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if d, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			v = d
		}
		headers[k] = strings.TrimSpace(v)
	}
	for k := range headers {
		if strings.EqualFold(k, "authorization") {
			delete(headers, k)
		}
	}
	pw, _ := u.User.Password()
	headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
	u.User = nil
	return u.String(), headers
}

// retry retries what the exporters deem transient (503, 429, gRPC
// Unavailable...) with backoff, for half the timeout, each wait at most a
// quarter of it (3/8 with the backoff's jitter): the last attempt then
// begins by 7/8 of the timeout, and its answer ("503 Service
// Unavailable: collector overloaded") is the error. Retried until the
// timeout itself, an attempt begun just before it was cut short, and the
// error said only "context deadline exceeded" (CI: once in a run of the
// tests).
func retry(timeout time.Duration) otlptracehttp.RetryConfig {
	initial := min(250*time.Millisecond, timeout/8)
	return otlptracehttp.RetryConfig{
		Enabled:         true,
		InitialInterval: initial,
		MaxInterval:     max(initial, min(2*time.Second, timeout/4)),
		MaxElapsedTime:  timeout / 2,
	}
}

// Endpoint is the URL spans are sent to, with its credentials (a password,
// query parameters) redacted: it is meant for messages.
func (c *Client) Endpoint() string { return c.shown }

// Protocol is the OTLP protocol spans are sent with.
func (c *Client) Protocol() string { return c.protocol }

// ExportSpans sends spans in one request, within the client's timeout.
func (c *Client) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.exp.ExportSpans(ctx, spans); err != nil {
		return c.sanitize(fmt.Errorf("sending to %s (otlp %s, timeout %v): %w", c.shown, c.protocol, c.timeout, err))
	}
	return nil
}

// Shutdown closes the connection.
func (c *Client) Shutdown(ctx context.Context) error {
	if err := c.exp.Shutdown(ctx); err != nil {
		return c.sanitize(fmt.Errorf("closing otlp %s client for %s: %w", c.protocol, c.shown, err))
	}
	return nil
}

type clientConfig struct {
	endpoint string
	protocol string
	timeout  time.Duration
}

// resolve applies the environment (read through getenv) to o and checks
// the result: the SDK would log a bad setting and carry on with its
// default, sending somewhere else than the user asked.
func resolve(o ClientOptions, getenv func(string) string) (clientConfig, error) {
	var cfg clientConfig
	var errs []error
	env := func(names ...string) (string, string) {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return n, v
			}
		}
		return "", ""
	}

	cfg.protocol = o.Protocol
	if cfg.protocol == "" {
		var src string
		src, cfg.protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
		if cfg.protocol == "" {
			cfg.protocol = ProtocolHTTPProtobuf
		} else if err := checkProtocol(cfg.protocol); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
		}
	} else if err := checkProtocol(cfg.protocol); err != nil {
		errs = append(errs, err)
	}
	isHTTP := cfg.protocol != ProtocolGRPC

	var err error
	switch src, v := env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); {
	case o.Endpoint != "":
		cfg.endpoint, err = endpointURL(o.Endpoint, isHTTP, pathIfNone)
	case v != "":
		cfg.endpoint, err = endpointURL(v, isHTTP, pathAsIs)
		err = prefix(src, err)
	default:
		src, v = env("OTEL_EXPORTER_OTLP_ENDPOINT")
		switch {
		case v != "":
			cfg.endpoint, err = endpointURL(v, isHTTP, pathJoin)
			err = prefix(src, err)
		case isHTTP:
			cfg.endpoint = defaultHTTPEndpoint
		default:
			cfg.endpoint = defaultGRPCEndpoint
		}
	}
	errs = append(errs, err)

	cfg.timeout = o.Timeout
	if cfg.timeout <= 0 {
		cfg.timeout = DefaultTimeout
		if src, v := env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); v != "" {
			msec, err := strconv.ParseInt(v, 10, 64)
			if err != nil || msec <= 0 || msec > maxTimeoutMS {
				// Bounded: a Duration of more would overflow (QA:
				// 999999999999999 was taken, for 1 076 616 hours).
				errs = append(errs, fmt.Errorf("%s=%q: want a positive number of milliseconds, at most %d (an hour)", src, v, maxTimeoutMS))
			} else {
				cfg.timeout = time.Duration(msec) * time.Millisecond
			}
		}
	}
	if src, v := env("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"); v != "" && v != "gzip" && v != "none" {
		errs = append(errs, fmt.Errorf("%s=%q: want gzip or none", src, v))
	}
	// The SDK reads these itself, and only logs what it cannot use,
	// sending without it (QA: a malformed header was dropped with a log
	// line, and the request went out without its key).
	if src, v := env("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"); v != "" {
		errs = append(errs, prefix(src, checkHeaders(v)))
	}
	for _, name := range []string{"CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		if src, v := env("OTEL_EXPORTER_OTLP_TRACES_"+name, "OTEL_EXPORTER_OTLP_"+name); v != "" {
			if f, err := os.Open(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
			} else {
				f.Close()
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return clientConfig{}, fmt.Errorf("otlp configuration: %w", err)
	}
	return cfg, nil
}

// maxTimeoutMS bounds OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT: an hour.
const maxTimeoutMS = 3_600_000

// checkHeaders checks OTEL_EXPORTER_OTLP_[TRACES_]HEADERS as the SDK
// parses it: comma-separated key=value pairs, the key an HTTP token, the
// value percent-encoded. The values are secrets (tokens): an error names
// the pair by its place and key only.
func checkHeaders(v string) error {
	for i, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			return fmt.Errorf("header %d: missing '=' (want key=value pairs separated by commas)", i+1)
		case !httpToken(key):
			return fmt.Errorf("header %d: key %q is not an HTTP header name", i+1, key)
		}
		if _, err := url.PathUnescape(value); err != nil {
			return fmt.Errorf("header %d (%s): its value is not percent-encoded as it should be", i+1, key)
		}
	}
	return nil
}

// httpToken reports whether s is an HTTP token (RFC 9110), a header's name.
func httpToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}

func prefix(src string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return err
}

func checkProtocol(p string) error {
	switch p {
	case ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC:
		return nil
	}
	return fmt.Errorf("unknown otlp protocol %q: want http/protobuf, http/json or grpc", p)
}

// How an endpoint's path becomes the OTLP/HTTP URL's path.
const (
	pathIfNone = iota // add /v1/traces if it has no path (the --endpoint flag)
	pathJoin          // always add /v1/traces (OTEL_EXPORTER_OTLP_ENDPOINT, a base URL)
	pathAsIs          // use as is, "/" if none (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
)

// endpointURL checks endpoint u and, for OTLP/HTTP, sets its path as mode
// says. gRPC endpoints keep only their scheme, credentials and host; a query
// is refused (the SDK would drop it).
func endpointURL(u string, isHTTP bool, mode int) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", fmt.Errorf("endpoint %q: want a URL such as http://localhost:4318 (http:// is sent in the clear, https:// over TLS)", Redact(u))
	}
	if p.RawQuery != "" || p.ForceQuery {
		// The SDK sends no query: a collector's key in one would be
		// dropped without a word (QA).
		return "", fmt.Errorf("endpoint %q: a query (?...) is not sent with the spans: pass the collector's key as a header instead, OTEL_EXPORTER_OTLP_HEADERS='api-key=...' (the name your collector wants)", Redact(u))
	}
	if !isHTTP {
		return (&url.URL{Scheme: p.Scheme, User: p.User, Host: p.Host}).String(), nil
	}
	switch {
	case mode == pathJoin:
		p.Path = path.Join("/", p.Path, tracesPath)
	case p.Path != "" && p.Path != "/":
	case mode == pathIfNone:
		p.Path = tracesPath
	default:
		p.Path = "/"
	}
	return p.String(), nil
}
