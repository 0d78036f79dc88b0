package oteltrace

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:4318":                        "http://localhost:4318",
		"https://user:s3cret@collector:4318/v1/traces": "https://REDACTED@collector:4318/v1/traces",
		"http://c:4318/v1/traces?api_key=tok123":       "http://c:4318/v1/traces?api_key=REDACTED",
		"not a url with u:p@host":                      "not a url with u:p@host",
		"//u:p@host/x":                                 "//REDACTED@host/x",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestClientErrorsRedacted: a collector that refuses with a megabyte of
// body gives an error without the endpoint's password or token, cut to a
// few hundred bytes.
func TestClientErrorsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(strings.Repeat("<html>refused</html>", 50000)))
	}))
	defer srv.Close()
	endpoint := strings.Replace(srv.URL, "http://", "http://alice:hunter22@", 1) + "/v1/traces"
	c, err := NewClient(context.Background(), ClientOptions{Endpoint: endpoint, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = exportTo(c)
	if err == nil {
		t.Fatal("export succeeded")
	}
	msg := err.Error()
	for _, secret := range []string{"hunter22", "alice"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows %q: %s", secret, msg)
		}
	}
	if len(msg) > maxErrorText+100 || !strings.Contains(msg, "400") {
		t.Errorf("error of %d bytes (want the status, at most about %d): %.300s", len(msg), maxErrorText, msg)
	}
	if strings.Contains(c.Endpoint(), "hunter22") {
		t.Errorf("Endpoint() = %s", c.Endpoint())
	}
	if _, err := NewClient(context.Background(), ClientOptions{Endpoint: "ftp://bob:pw123@x"}); err == nil || strings.Contains(err.Error(), "pw123") {
		t.Errorf("bad endpoint error: %v", err)
	}
}

// TestEndpointCredentials: an endpoint's user:password@ is sent as HTTP
// basic authentication, beside the environment's headers (QA: both were
// dropped while the message said the URL was used); a query, which the
// SDK would drop, is refused with a message that shows none of it.
func TestEndpointCredentials(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Clone():
		default:
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=blue%20green, authorization=Bearer old")
	endpoint := strings.Replace(srv.URL, "http://", "http://alice:hunter22@", 1) + "/v1/traces"
	c, err := NewClient(context.Background(), ClientOptions{Endpoint: endpoint, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := exportTo(c); err != nil {
		t.Fatal(err)
	}
	h := <-got
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:hunter22")); h.Get("Authorization") != want || h.Get("X-Team") != "blue green" {
		t.Errorf("headers sent: Authorization %q (want %q), X-Team %q", h.Get("Authorization"), want, h.Get("X-Team"))
	}
	for _, proto := range []string{ProtocolHTTPProtobuf, ProtocolGRPC} {
		_, err = NewClient(context.Background(), ClientOptions{Endpoint: srv.URL + "/v1/traces?api_key=tok-secret", Protocol: proto})
		if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_HEADERS") || strings.Contains(err.Error(), "tok-secret") {
			t.Errorf("%s, an endpoint with a query: %v", proto, err)
		}
	}
}
