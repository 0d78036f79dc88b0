package chrome

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/browser"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// fakePerfetto is a page on its own origin that speaks the UI's side of the
// deep-link protocol: PONG to a PING, then it reports the trace it is sent
// to its server.
const fakePerfetto = `<!doctype html><meta charset="utf-8"><script>
window.addEventListener("message", evt => {
  if (evt.data === "PING") { evt.source.postMessage("PONG", "*"); return; }
  const p = evt.data && evt.data.perfetto;
  if (!p) return;
  fetch("/got?bytes=" + p.buffer.byteLength + "&title=" + encodeURIComponent(p.title) +
        "&head=" + encodeURIComponent(new TextDecoder().decode(p.buffer.slice(0, 14))));
});
</script>`

// TestViewPageInBrowser opens the page of Handler in headless Chromium,
// with a stand-in for ui.perfetto.dev on another origin, and checks that
// the whole trace reaches it through window.open, PING/PONG and
// postMessage.
func TestViewPageInBrowser(t *testing.T) {
	chromium := browser.Chromium(t)
	got := make(chan map[string]string, 1)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/got" {
			q := r.URL.Query()
			got <- map[string]string{"bytes": q.Get("bytes"), "title": q.Get("title"), "head": q.Get("head")}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(fakePerfetto))
	}))
	defer fake.Close()
	s := tracer.Derive(testkit.Mixed())
	view := httptest.NewServer(handler(s, "mixed run", fake.URL, nil))
	defer view.Close()
	want := len(exportBytes(t, s))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string(nil), browser.Args...), "--disable-popup-blocking",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", view.URL+"/")
	cmd := exec.CommandContext(ctx, chromium, args...)
	done := make(chan error, 1)
	go func() { _, err := cmd.CombinedOutput(); done <- err }()
	select {
	case m := <-got:
		if m["bytes"] != strconv.Itoa(want) || m["title"] != "mixed run" || m["head"] != `{"metadata":{"` {
			t.Errorf("the UI received %v, want %d bytes of the trace titled %q", m, want, "mixed run")
		}
	case err := <-done:
		t.Fatalf("chromium exited (%v) before the trace reached the stand-in UI", err)
	case <-ctx.Done():
		t.Fatal("timed out waiting for the trace to reach the stand-in UI")
	}
	cancel()
	<-done
}

func exportBytes(t *testing.T, s *tracer.Spans) []byte {
	var b bytes.Buffer
	if err := New(&b).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
