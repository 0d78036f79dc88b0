package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/browser"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// startView runs `giltrace view --no-browser ARGS...` in-process on
// 127.0.0.1:0 and returns the address it prints; the server stops when the
// test ends, and must stop cleanly.
func startView(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"view", "--no-browser", "--addr", "127.0.0.1:0"}, args...))
	cmd.SetOut(pw)
	cmd.SetErr(pw)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("view returned %v after Ctrl-C, want nil", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the address: %v (output %q)", err, line)
	}
	go io.Copy(io.Discard, pr)
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[1], "http://127.0.0.1:") {
		t.Fatalf("first line = %q, want the address", line)
	}
	return f[1]
}

// stubPerfetto is a page on its own origin that speaks the Perfetto UI's
// side of the deep-link protocol: PONG to a PING, then it reports the
// trace it is sent to its server.
const stubPerfetto = `<!doctype html><meta charset="utf-8"><script>
window.addEventListener("message", evt => {
  if (evt.data === "PING") { evt.source.postMessage("PONG", "*"); return; }
  const p = evt.data && evt.data.perfetto;
  if (!p) return;
  fetch("/got?bytes=" + p.buffer.byteLength + "&title=" + encodeURIComponent(p.title) +
        "&file=" + encodeURIComponent(p.fileName));
});
</script>`

// TestViewInBrowser loads the page of the real giltrace view server in
// headless Chromium: the report renders, the timeline draws every thread
// and responds to zoom, pprof's flame graph and source view load for each
// profile, and the Perfetto button completes the handshake with a stub UI
// that receives the whole trace.
func TestViewInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	wd := browser.Start(t, "--disable-popup-blocking")
	got := make(chan map[string]string, 1)
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/got" {
			q := r.URL.Query()
			got <- map[string]string{"bytes": q.Get("bytes"), "title": q.Get("title"), "file": q.Get("file")}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(stubPerfetto))
	}))
	defer stub.Close()
	tr := testkit.Mixed()
	path, _ := writeTrace(t, tr)
	url := startView(t, "--perfetto", stub.URL, path)
	traceLen := len(fetch(t, url+"trace"))

	wd.Navigate(url)
	t.Run("report", func(t *testing.T) {
		if v := wd.Text("#verdicts"); strings.TrimSpace(v) == "" || strings.Contains(v, "No verdict") {
			t.Errorf("verdicts = %q", v)
		}
		var bars, parts int
		wd.Script(&bars, `return document.querySelectorAll("#breakdown tr.thread").length`)
		wd.Script(&parts, `return document.querySelectorAll("#breakdown .part").length`)
		if bars != len(tr.Threads) || parts < bars {
			t.Errorf("%d bars with %d parts, want one bar per thread (%d)", bars, parts, len(tr.Threads))
		}
		if s := wd.Text("#speedup"); !strings.Contains(s, "achieved") || !strings.Contains(s, "×") && !strings.Contains(s, "x") {
			t.Errorf("speedup table = %q", s)
		}
	})
	t.Run("timeline", func(t *testing.T) { checkTimeline(t, wd, tr) })
	t.Run("perfetto", func(t *testing.T) {
		wd.Click(wd.Find("#perfetto"))
		select {
		case m := <-got:
			if m["bytes"] != itoa(traceLen) || m["title"] != tr.Meta.Workload || m["file"] != "trace.json" {
				t.Errorf("the stub UI received %v, want %d bytes of trace.json titled %q", m, traceLen, tr.Meta.Workload)
			}
		case <-time.After(30 * time.Second):
			var log string
			wd.Script(&log, `return document.getElementById("log").textContent`)
			t.Fatalf("timed out waiting for the trace to reach the stub UI (page log %q)", log)
		}
	})
	for _, kind := range []string{"wait", "blame", "wall"} {
		t.Run("pprof-"+kind, func(t *testing.T) {
			wd.Navigate(url + "pprof/" + kind + "/flamegraph")
			var boxes int
			waitFor(t, 20*time.Second, "pprof's flame graph drew no boxes", func() bool {
				wd.Script(&boxes, `return document.querySelectorAll("#stack-chart .boxbg, #stack-chart div").length`)
				return boxes > 0
			})
			wd.Navigate(url + "pprof/" + kind + "/source")
			if s := wd.Text("#content"); !strings.Contains(s, "Total:") {
				t.Errorf("pprof's source view of the %s profile: %q", kind, s)
			}
		})
	}
}

// checkTimeline waits for the timeline to draw, checks it has a lane per
// thread and a GIL lane per process with a GIL, then zooms in with the
// wheel and checks it fetched and drew the narrower window.
func checkTimeline(t *testing.T, wd *browser.Driver, tr *tracer.Trace) {
	var st struct {
		Fetches, Drawn, Threads, GIL, Arrows int
		Start, End                           float64
	}
	read := func() {
		wd.Script(&st, `const tl = window.giltraceTimeline; const l = tl.data ? tl.data.lanes : [];
			return {Fetches: tl.fetches, Drawn: tl.drawn, Start: tl.start, End: tl.end, Arrows: tl.arrows || 0,
			        Threads: l.filter(x => x.kind === "thread").length, GIL: l.filter(x => x.kind === "gil").length}`)
	}
	waitFor(t, 20*time.Second, "the timeline never loaded", func() bool { read(); return st.Fetches > 0 })
	gils := 0
	for _, p := range tr.Procs {
		if p.GIL != tracer.NoLock {
			gils++
		}
	}
	if st.Threads != len(tr.Threads) || st.GIL != gils || st.Drawn == 0 {
		t.Fatalf("timeline: %+v, want %d thread lanes and %d GIL lanes, drawn", st, len(tr.Threads), gils)
	}
	handoffs := 0
	for _, h := range tracer.Derive(tr).Handoffs {
		if h.From != h.To && h.From != tracer.NoThread && tr.Locks[h.Lock].GIL {
			handoffs++
		}
	}
	if st.Arrows != handoffs {
		t.Errorf("%d handoff arrows drawn, want the %d GIL handoffs", st.Arrows, handoffs)
	}
	// Hover: the middle of the canvas is over a lane; the tip names it.
	wd.Hover(wd.Find("#tl-canvas"))
	var tip string
	waitFor(t, 20*time.Second, "hovering the timeline shows no details", func() bool {
		wd.Script(&tip, `const t = document.getElementById("tl-tip"); return t.style.display === "block" ? t.textContent : ""`)
		return tip != ""
	})
	if !strings.Contains(tip, "from ") || !strings.Contains(tip, " for ") {
		t.Errorf("hover details %q", tip)
	}
	before, span := st.Fetches, st.End-st.Start
	wd.Script(nil, `const c = document.getElementById("tl-canvas"), r = c.getBoundingClientRect();
		for (let i = 0; i < 3; i++) c.dispatchEvent(new WheelEvent("wheel", {deltaY: -100, clientX: r.left + r.width * 0.6, clientY: r.top + 40, bubbles: true, cancelable: true}));`)
	waitFor(t, 20*time.Second, "the timeline did not reload after zooming", func() bool { read(); return st.Fetches > before })
	if got := st.End - st.Start; got >= span*0.6 || st.Drawn == 0 {
		t.Errorf("after zooming in, the window is %v ns of %v, %d segments drawn", got, span, st.Drawn)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestViewLargeRun serves a run of 1.1 M events: the timeline's answer for
// the whole run stays small, and the Perfetto button gets Perfetto's
// protobuf, not Chrome JSON.
func TestViewLargeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 1.1 M-event trace")
	}
	path, _ := writeTrace(t, testkit.Large(1_100_000))
	url := startView(t, path)
	start := time.Now()
	tl := fetch(t, url+"timeline.json?width=1200")
	if len(tl) > 1<<20 {
		t.Errorf("the whole run's timeline is %d bytes", len(tl))
	}
	t.Logf("timeline of the whole run: %d bytes in %v (loaded machine)", len(tl), time.Since(start))
	resp, err := http.Get(url + "trace")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if f := resp.Header.Get("X-Trace-File"); f != "trace.perfetto-trace" || n == 0 {
		t.Errorf("the trace for Perfetto is %s, %d bytes; want trace.perfetto-trace", f, n)
	}
}
