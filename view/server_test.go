package view

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/perfetto"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func newHandler(t testing.TB, tr *tracer.Trace) *Handler {
	t.Helper()
	s := tracer.Derive(tr)
	h, err := New(Options{Spans: s, Report: diagnosis.Analyze(s), Title: "test run"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestHostHeader checks the defence against DNS rebinding: only requests
// naming a loopback host are served.
func TestHostHeader(t *testing.T) {
	h := newHandler(t, testkit.Countdown(3))
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:8080", 200},
		{"localhost:8080", 200},
		{"LOCALHOST", 200},
		{"[::1]:9000", 200},
		{"127.1.2.3", 200},
		{"evil.example.com", 403},
		{"evil.example.com:8080", 403},
		{"localhost.evil.example.com", 403},
		{"10.0.0.1:80", 403},
		{"", 403},
	} {
		for _, path := range []string{"/", "/timeline.json", "/pprof/wait/top", "/trace"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("GET %s with Host %q: %d, want %d", path, tc.host, rec.Code, tc.want)
			}
		}
	}
}

// TestCrossSite checks that requests a browser marks as coming from another
// site are refused, and the page's own and typed-in ones served.
func TestCrossSite(t *testing.T) {
	h := newHandler(t, testkit.Countdown(3))
	for site, want := range map[string]int{"": 200, "none": 200, "same-origin": 200, "same-site": 403, "cross-site": 403} {
		req := httptest.NewRequest("GET", "/pprof/wait/top", nil)
		req.Host = "127.0.0.1:1234"
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Code; (want == 403) != (got == 403) {
			t.Errorf("Sec-Fetch-Site %q: %d, want %d", site, got, want)
		}
	}
}

// TestForeignOriginPost: a POST whose Origin is another site is refused
// even without Sec-Fetch-Site (QA: pprof's saveconfig wrote the user's
// ~/.config/pprof/settings.json for Origin: http://evil.example); the
// page's own posts, and GETs, are served.
func TestForeignOriginPost(t *testing.T) {
	h := newHandler(t, testkit.Countdown(3))
	for _, tc := range []struct {
		method, origin string
		refused        bool
	}{
		{"POST", "http://evil.example", true},
		{"POST", "null", true},
		{"POST", "http://127.0.0.1:1234", false},
		{"POST", "http://localhost:1234", false},
		{"POST", "", false},
		{"GET", "http://evil.example", false},
	} {
		req := httptest.NewRequest(tc.method, "/pprof/wait/top", nil)
		req.Host = "127.0.0.1:1234"
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Code == http.StatusForbidden; got != tc.refused {
			t.Errorf("%s with Origin %q: %d, want refused %v", tc.method, tc.origin, rec.Code, tc.refused)
		}
	}
}

func get(t testing.TB, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Host = "127.0.0.1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	return rec
}

// TestRoutes checks that every part of the page is served.
func TestRoutes(t *testing.T) {
	h := newHandler(t, testkit.Mixed())
	page := get(t, h, "/").Body.String()
	for _, want := range []string{"<h1>test run</h1>", `id="verdicts"`, `id="tl-canvas"`, "pprof/wait/flamegraph", "flame.html", "Open in Perfetto"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
	for _, path := range []string{"/flame.html", "/pprof/wait/flamegraph", "/pprof/blame/top", "/pprof/wall/source", "/perfetto/", "/perfetto/trace.json"} {
		get(t, h, path)
	}
	if loc := func() string {
		req := httptest.NewRequest("GET", "/pprof/wall", nil)
		req.Host = "localhost"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Header().Get("Location")
	}(); loc != "/pprof/wall/" {
		t.Errorf("/pprof/wall redirects to %q", loc)
	}
}

// TestTimelineDecimation checks that a window's answer is bounded by its
// width, not by the run: a run of 1 M events drawn 1000 pixels wide has
// at most a few segments per pixel per lane, and every lane covers the
// window.
func TestTimelineDecimation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1 M-event trace")
	}
	tr := testkit.Large(1_000_000)
	tl := newTimeline(tracer.Derive(tr))
	const width = 1000
	start := time.Now()
	w := tl.window(0, tr.Duration(), width)
	elapsed := time.Since(start)
	if len(w.Lanes) != len(tr.Threads)+1 {
		t.Fatalf("%d lanes, want %d threads and the GIL", len(w.Lanes), len(tr.Threads))
	}
	for _, l := range w.Lanes {
		if n := len(l.Segs); n == 0 || n > 3*width {
			t.Errorf("lane %s: %d segments for %d pixels", l.Name, n, width)
		}
		var n int64
		for i, s := range l.Segs {
			if s[1] <= s[0] || (i > 0 && s[0] < l.Segs[i-1][1]) {
				t.Fatalf("lane %s: segment %d %v is empty or overlaps the one before", l.Name, i, s)
			}
			n += s[3]
		}
		if l.Kind == "thread" && n < int64(w.Spans/len(w.Lanes)/4) {
			t.Errorf("lane %s: segments stand for %d spans of %d", l.Name, n, w.Spans)
		}
	}
	if len(w.Handoffs) > maxArrows || w.Omitted == 0 {
		t.Errorf("%d handoff arrows, %d omitted: want at most %d and the rest counted", len(w.Handoffs), w.Omitted, maxArrows)
	}
	b, _ := json.Marshal(w)
	t.Logf("1 M events, whole run at %d px: %d spans -> %d bytes of JSON in %v (machine shared, loaded)", width, w.Spans, len(b), elapsed)
	if len(b) > 1<<20 {
		t.Errorf("the answer is %d bytes, want under 1 MiB", len(b))
	}
	// Zoomed in to a pixel per nanosecond, nothing is merged: a lane has a
	// segment per run of one state.
	a := tr.Duration() / 2
	z := tl.window(a, a+width, width)
	for i, l := range z.Lanes {
		if l.Kind != "thread" {
			continue
		}
		runs := 0
		for j, sp := range clipStates(tl.s.ThreadStates(tracer.ThreadID(l.Thread)), a, a+width) {
			if j == 0 || sp.State != clipStates(tl.s.ThreadStates(tracer.ThreadID(l.Thread)), a, a+width)[j-1].State {
				runs++
			}
		}
		if len(l.Segs) != runs {
			t.Errorf("zoomed in: lane %d (%s) has %d segments for %d runs of one state", i, l.Name, len(l.Segs), runs)
		}
	}
}

func TestTimelineJSON(t *testing.T) {
	h := newHandler(t, testkit.Mixed())
	var w Window
	if err := json.Unmarshal(get(t, h, "/timeline.json?width=200").Body.Bytes(), &w); err != nil {
		t.Fatal(err)
	}
	if w.Start != 0 || w.End != w.Duration || len(w.Lanes) == 0 || len(w.States) != tracer.NumStates {
		t.Errorf("whole run: %+v", w)
	}
	req := httptest.NewRequest("GET", "/timeline.json?start=x", nil)
	req.Host = "localhost"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Errorf("start=x: %d, want 400", rec.Code)
	}
}

// TestTraceFormat checks that the Perfetto button gets Perfetto's protobuf
// for a run over perfetto.LargeRun events, Chrome JSON otherwise.
func TestTraceFormat(t *testing.T) {
	small := &tracer.Spans{Trace: &tracer.Trace{Events: make([]tracer.Event, 10)}}
	large := &tracer.Spans{Trace: &tracer.Trace{Events: make([]tracer.Event, perfetto.LargeRun+1)}}
	if name, _ := traceFormat(small, nil); name != "trace.json" {
		t.Errorf("small run: %s", name)
	}
	if name, _ := traceFormat(large, nil); name != "trace.perfetto-trace" {
		t.Errorf("large run: %s", name)
	}
}

// TestConcurrentRequests serves every route from several goroutines at
// once, as a browser loading the page does (run it with -race).
func TestConcurrentRequests(t *testing.T) {
	h := newHandler(t, testkit.Mixed())
	paths := []string{"/", "/timeline.json?width=300", "/timeline.json?start=100&end=5000000&width=50",
		"/flame.html", "/pprof/wait/flamegraph", "/pprof/blame/top", "/pprof/wall/source", "/trace"}
	done := make(chan string, 4*len(paths))
	for range 4 {
		for _, p := range paths {
			go func() {
				req := httptest.NewRequest("GET", p, nil)
				req.Host = "localhost"
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					done <- fmt.Sprintf("GET %s: %d", p, rec.Code)
					return
				}
				done <- ""
			}()
		}
	}
	for range 4 * len(paths) {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

// TestCompareCharts checks that the charts of the run's directory, or of
// its compare/ subdirectory, are on the page and served.
func TestCompareCharts(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "speedup.svg"), []byte("<svg>speedup</svg>"), 0o644)
	os.MkdirAll(filepath.Join(dir, "compare"), 0o755)
	os.WriteFile(filepath.Join(dir, "compare", "overlap.svg"), []byte("<svg>overlap</svg>"), 0o644)
	// A real program's what-if chart, which record writes in whatif/ (QA:
	// not shown).
	os.MkdirAll(filepath.Join(dir, "whatif"), 0o755)
	os.WriteFile(filepath.Join(dir, "whatif", "whatif.svg"), []byte("<svg>whatif</svg>"), 0o644)
	s := tracer.Derive(testkit.Mixed())
	// The prediction is this run's: its workload and wall (review: another
	// run's chart was shown beside this run's page).
	whatIfJSON := func(wall int64) {
		os.WriteFile(filepath.Join(dir, "whatif", "whatif.json"), []byte(fmt.Sprintf(`{"workload": %q, "measured_wall_ns": %d}`, s.Trace.Meta.Workload, wall)), 0o644)
	}
	whatIfJSON(s.Trace.Duration() + 1)
	h, err := New(Options{Spans: s, Report: diagnosis.Analyze(s), Title: "t", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if page := get(t, h, "/").Body.String(); strings.Contains(page, `src="compare/whatif.svg"`) {
		t.Error("another run's what-if chart is on the page")
	}
	h.Close()
	whatIfJSON(s.Trace.Duration())
	h, err = New(Options{Spans: s, Report: diagnosis.Analyze(s), Title: "t", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	page := get(t, h, "/").Body.String()
	for _, want := range []string{`id="compare"`, `src="compare/speedup.svg"`, `src="compare/overlap.svg"`, `src="compare/whatif.svg"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
	if b := get(t, h, "/compare/overlap.svg").Body.String(); b != "<svg>overlap</svg>" {
		t.Errorf("overlap.svg served as %q", b)
	}
	req := httptest.NewRequest("GET", "/compare/..%2Frun.giltrace", nil)
	req.Host = "localhost"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Errorf("a file other than the charts: %d, want 404", rec.Code)
	}
	if page := get(t, newHandler(t, testkit.Mixed()), "/").Body.String(); strings.Contains(page, `id="compare"`) {
		t.Error("a compare section without charts")
	}
}

// TestPageCounts: the page counts in the singular for one (QA: "1
// process(es)", "1 threads").
func TestPageCounts(t *testing.T) {
	h := newHandler(t, testkit.SingleThread())
	r := h.o.Report
	if len(r.Threads) != 1 || r.Processes != 1 || r.Speedup.Threads != 1 {
		t.Fatalf("the trace has %d threads, %d processes, %d for the speedup; the test wants 1 each", len(r.Threads), r.Processes, r.Speedup.Threads)
	}
	page := get(t, h, "/").Body.String()
	// The page's own words: the report's text (exporters/report) aside.
	if i, j := strings.Index(page, `<pre id="text">`), strings.Index(page, "</pre>"); i >= 0 && j > i {
		page = page[:i] + page[j:]
	}
	for _, want := range []string{" · 1 thread · 1 process · ", "<td>for 1 thread: "} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
	for _, bad := range []string{"(es)", " 1 threads", " 1 processes", " 1 cores", " 1 events", " 1 handoffs", " 1 drop requests"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page says %q", bad)
		}
	}
}

// TestPageNotices: what the text report says besides its verdicts is on
// the page too, outside the collapsed whole report: the busy machine's
// warning (issue 14: flagged in every output), where the run comes from,
// and the speedup measured or not, apart from the trace's overlap.
func TestPageNotices(t *testing.T) {
	page := func(h *Handler) string {
		t.Helper()
		p := get(t, h, "/").Body.String()
		if i, j := strings.Index(p, `<pre id="text">`), strings.Index(p, "</pre>"); i >= 0 && j > i {
			p = p[:i] + p[j:]
		}
		return p
	}
	h := newHandler(t, testkit.Countdown(3))
	r := h.o.Report
	r.Machine = &diagnosis.Machine{Busy: true, Share: 0.4, CPUNS: 400e6, WantedCPUNS: 1e9, CapacityNS: 2e9}
	r.BusyMachine = true
	r.Speedup.Measured, r.Speedup.SerialWallNS = 1.5, 3*r.WallNS/2
	p := page(h)
	for _, want := range []string{`<p class="warning"><b>Warning</b>: busy machine: the run obtained 40 %`, "<th>measured</th><td>1.50x</td>", "overlap: the same work on one thread "} {
		if !strings.Contains(p, want) {
			t.Errorf("the page has no %q", want)
		}
	}
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-convoy.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	p = page(newHandler(t, tr))
	for _, want := range []string{`<p class="note">Recorded from a real CPython program`, "<th>measured</th><td>-</td><td>not known"} {
		if !strings.Contains(p, want) {
			t.Errorf("the real program's page has no %q", want)
		}
	}
	if strings.Contains(p, `class="warning"`) {
		t.Errorf("the real program's page warns, and its report does not")
	}

	// Review: no verdict, where the report names what limits the run and
	// the idle threads; a trace cut short; a one-thread run.
	tr = testkit.SingleThread()
	tr.Dropped, tr.Truncated = 1234, true
	h = newHandler(t, tr)
	r = h.o.Report
	r.Verdicts = nil
	r.NoVerdict = &diagnosis.NoVerdict{Thread: "main", Text: "main's own work fills 90 % of the wall", Advice: "Shorten main's own work."}
	r.Idle = &diagnosis.Idle{Threads: 2, Text: "The 2 threads that waited for lock 0x1 were idle"}
	p = page(h)
	for _, want := range []string{"<p>No verdict: none of the verdicts' thresholds was reached.</p>",
		"<b>one thread's work</b>: main&#39;s own work fills 90 % of the wall</p><p class=\"advice\">Shorten main&#39;s own work.</p>",
		"<b>idle threads</b>: The 2 threads that waited for lock 0x1 were idle",
		`<p class="note">Trace: 1234 dropped: the trace is cut short</p>`, `<p class="note">Trace: file truncated</p>`,
		"<th>measured</th><td>-</td><td>this run is the one-thread run</td>"} {
		if !strings.Contains(p, want) {
			t.Errorf("the page of a run without a verdict, cut short, has no %q", want)
		}
	}
}

// TestPageWhatIf: the page shows what would help, as record printed it in
// the run's report.txt for a real program, and not another run's.
func TestPageWhatIf(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-convoy.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	r := diagnosis.Analyze(s)
	var text strings.Builder
	if err := report.WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	const whatIf = "What would help (predicted from a model of the run, in virtual time)\n  best on 2 cores: threads, as recorded, predicted 1.09x"
	for _, tc := range []struct {
		name, file string
		want       bool
	}{
		{"this run's", text.String() + "\n" + whatIf + "\n", true},
		{"another run's", "other: 2 threads in 1 process\n" + text.String() + "\n" + whatIf + "\n", false},
		{"without a prediction", text.String(), false},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := New(Options{Spans: s, Report: r, Title: "convoy", Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		page := get(t, h, "/").Body.String()
		h.Close()
		got := strings.Contains(page, "<h2>What would help</h2>\n<pre id=\"whatif\">What would help (predicted from a model of the run, in virtual time)\n  best on 2 cores: threads, as recorded, predicted 1.09x</pre>")
		if got != tc.want {
			t.Errorf("%s report.txt: the page shows its what-if: %v, want %v", tc.name, got, tc.want)
		}
	}
}
