package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/chrometest"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/view"
)

func TestViewArgs(t *testing.T) {
	pf := view.PerfettoOrigin
	testArgs(t, viewCmd, []argsCase[viewOptions]{
		{[]string{"run.giltrace"}, &viewOptions{File: "run.giltrace", Addr: "127.0.0.1:0", Perfetto: pf}, false, ""},
		{[]string{"run.giltrace", "--addr", "localhost:8080"}, &viewOptions{File: "run.giltrace", Addr: "localhost:8080", Perfetto: pf}, false, ""},
		{[]string{"run.giltrace", "--addr", "[::1]:9000", "--no-browser"}, &viewOptions{File: "run.giltrace", Addr: "[::1]:9000", NoBrowser: true, Perfetto: pf}, false, ""},
		{[]string{"run.giltrace", "--perfetto", "http://127.0.0.1:10000"}, &viewOptions{File: "run.giltrace", Addr: "127.0.0.1:0", Perfetto: "http://127.0.0.1:10000"}, false, ""},
		{[]string{"run.giltrace", "--perfetto", "ui.perfetto.dev"}, nil, true, "--perfetto"},
		{[]string{"run.giltrace", "--addr", "0.0.0.0:8080"}, nil, true, ""},
		{[]string{"run.giltrace", "--addr", ":8080"}, nil, true, ""},
		{[]string{"run.giltrace", "--addr", "8080"}, nil, true, ""},
		{[]string{"run.giltrace", "--addr", "127.0.0.1:99999"}, nil, true, "expected a port number"},
		{[]string{"run.giltrace", "--addr", "127.0.0.1:http"}, nil, true, "expected a port number"},
		{nil, nil, true, ""},
		{[]string{"a", "b"}, nil, true, ""},
	})
}

// TestView runs giltrace view on a trace file, fetches the page and the
// trace from the address it prints, then stops it (startView).
func TestView(t *testing.T) {
	path, _ := writeTrace(t, testkit.Countdown(3))
	url := startView(t, path) // stops it at the end, checking it stops cleanly

	page := fetch(t, url)
	if !strings.Contains(page, "ui.perfetto.dev") || !strings.Contains(page, "<h1>countdown</h1>") {
		t.Errorf("page:\n%s", page)
	}
	sum, err := chrometest.Validate(strings.NewReader(fetch(t, url+"trace")))
	if err != nil {
		t.Fatal(err)
	}
	if sum.TID(1, "GIL") == 0 || len(sum.Flows) == 0 {
		t.Errorf("trace.json has no GIL track or no flows")
	}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// TestServeViewStopsWithPreconnect: a connection opened and left without
// a request (as Chromium preconnects) does not hold up or fail the stop:
// net/http counts it idle only after 5 s, when the stop gave up with an
// error before.
func TestServeViewStopsWithPreconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveView(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(100 * time.Millisecond) // accepted
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stopping: %v, want nil", err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("stopped after %v, want about a second", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not stop")
	}
}

// TestViewSaysTheBrowserFailed: an opener that starts and then fails
// (xdg-open on a server, exit 3) is said, with its first line of error
// (QA: view said nothing, and no page came).
func TestViewSaysTheBrowserFailed(t *testing.T) {
	opener := filepath.Join(t.TempDir(), "opener")
	script := "#!/bin/sh\necho 'xdg-open: no method available for opening' \"$1\" >&2\necho second line >&2\nexit 3\n"
	if err := os.WriteFile(opener, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(old string) { browserOpener = old }(browserOpener)
	browserOpener = opener
	got := make(chan error, 1)
	if err := openBrowser("http://127.0.0.1:1/", func(err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if want := "opener: exit status 3: xdg-open: no method available for opening http://127.0.0.1:1/"; err.Error() != want {
			t.Errorf("failure %q, want %q", err, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the opener's failure was not reported")
	}
}
