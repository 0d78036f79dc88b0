package chrome_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func get(t *testing.T, method, url string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestHandler(t *testing.T) {
	tr := testkit.Countdown(2)
	title := `countdown </script><b>"x"`
	srv := httptest.NewServer(chrome.Handler(tracer.Derive(tr), title, nil))
	defer srv.Close()

	code, ctype, page := get(t, "GET", srv.URL+"/")
	if code != 200 || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("GET / = %d %s", code, ctype)
	}
	for _, want := range []string{
		`const origin = "https://ui.perfetto.dev"`, // the deep-link protocol
		`postMessage("PING", origin)`,
		`evt.data !== "PONG"`,
		`{perfetto: {buffer: trace, title: title`,
		`fetch("trace.json")`,
		`const title = "countdown \u003c/script\u003e\u003cb\u003e\"x\""`, // the title, escaped for JavaScript
		`<h1>countdown &lt;/script&gt;&lt;b&gt;&#34;x&#34;</h1>`,          // and for HTML
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page has no %s:\n%s", want, page)
		}
	}

	code, ctype, body := get(t, "GET", srv.URL+"/trace.json")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("GET /trace.json = %d %s", code, ctype)
	}
	if body != string(export(t, tr)) {
		t.Error("GET /trace.json is not the trace's export")
	}
	validate(t, []byte(body))

	for _, c := range []struct{ method, path string }{{"GET", "/nope"}, {"POST", "/"}, {"POST", "/trace.json"}} {
		if code, _, _ := get(t, c.method, srv.URL+c.path); code < 400 {
			t.Errorf("%s %s = %d, want an error", c.method, c.path, code)
		}
	}
}
