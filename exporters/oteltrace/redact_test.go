package oteltrace

import (
	"context"
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
	endpoint := strings.Replace(srv.URL, "http://", "http://alice:hunter22@", 1) + "/v1/traces?token=tok-secret"
	c, err := NewClient(context.Background(), ClientOptions{Endpoint: endpoint, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = exportTo(c)
	if err == nil {
		t.Fatal("export succeeded")
	}
	msg := err.Error()
	for _, secret := range []string{"hunter22", "tok-secret", "alice"} {
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
