package flamegraph_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/browser"
	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// flame wraps the browser harness with the flame graph page's lookups.
type flame struct{ *browser.Driver }

// frame returns the element of the frame named name.
func (wd flame) frame(name string) string {
	wd.T().Helper()
	var el map[string]any
	wd.Script(&el, `return [...document.querySelectorAll("#chart .frame")].find(d => d.dataset.name === arguments[0]) || null`, name)
	if el[browser.ElementKey] == nil {
		var names []string
		wd.Script(&names, `return [...document.querySelectorAll("#chart .frame")].map(d => d.textContent)`)
		wd.T().Fatalf("no frame %q drawn; frames: %q", name, names)
	}
	return el[browser.ElementKey].(string)
}

// frameWidth is the drawn width of the frame named name, and the chart's.
func (wd flame) frameWidth(name string) (frame, chart float64) {
	wd.T().Helper()
	var w []float64
	wd.Script(&w, `const d = [...document.querySelectorAll("#chart .frame")].find(d => d.dataset.name === arguments[0]);
		return [d ? d.getBoundingClientRect().width : 0, document.getElementById("chart").clientWidth]`, name)
	return w[0], w[1]
}

// TestBrowser opens a generated page from disk in headless Chromium and
// checks that it draws the frames, that hovering shows details, that search
// highlights and reports the matched share, that clicking zooms, that the
// view switch and the thread filter work. With -update it saves a
// screenshot as docs/img/flame.png.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	tr := testkit.Mixed()
	dir := t.TempDir()
	file := filepath.Join(dir, "flame.html")
	if err := os.WriteFile(file, page(t, tr), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := flame{browser.Start(t)}
	wd.Navigate("file://" + file)

	// 0. By default the threads of a kind are merged: worker-1 and
	// worker-2 are one tower, as wide as the two of them per thread.
	merged, width := wd.frameWidth("python/worker (2 threads)")
	if merged <= 0 {
		t.Fatalf("no merged frame for the two workers")
	}
	checkLabels(t, wd)
	wd.Click(wd.Find(`input[name=group][value=thread]`))
	w1, _ := wd.frameWidth("python/worker-1")
	w2, _ := wd.frameWidth("python/worker-2")
	if math.Abs(w1+w2-merged) > 2 || merged > width {
		t.Errorf("merged workers %.0f px, per thread %.0f + %.0f px", merged, w1, w2)
	}

	// 1. Rendered: a frame per thread, state and call of the wall view.
	var n int
	wd.Script(&n, `return document.querySelectorAll("#chart .frame").length`)
	if n < 20 {
		t.Fatalf("%d frames drawn, want at least 20", n)
	}
	for _, name := range []string{"all", "python/worker-1", "gil-wait", "parse (test.yaml:20)"} {
		wd.frame(name)
	}
	if title := wd.Text("h1"); title != "giltrace: mixed" {
		t.Errorf("title %q", title)
	}

	// 2. Hover: time and share of the total. worker-1 lives 12.0005 ms of 40 ms.
	wd.Hover(wd.frame("python/worker-1"))
	if d := wd.Text("#details"); !strings.Contains(d, "python/worker-1 | 12.0 ms, 30.00% of total") {
		t.Errorf("hover details %q", d)
	}

	// 3. Search: "parse" frames are 23999500 ns of 40000000 ns = 60.00%.
	wd.Type(wd.Find("#search"), "parse")
	wd.Script(&n, `return document.querySelectorAll("#chart .frame.match").length`)
	if n < 4 {
		t.Errorf("%d frames highlighted for parse, want at least 4", n)
	}
	m := regexp.MustCompile(`Matched: ([0-9.]+)%`).FindStringSubmatch(wd.Text("#match"))
	if m == nil {
		t.Fatalf("no match share in %q", wd.Text("#match"))
	}
	if pct, _ := strconv.ParseFloat(m[1], 64); math.Abs(pct-100*23999500.0/40000000) > 0.01 {
		t.Errorf("match share %s%%, want 60.00%%", m[1])
	}

	// 4. Zoom: clicking worker-2 makes it as wide as the chart.
	before, width := wd.frameWidth("python/worker-2")
	if before <= 0 || before > width*0.5 {
		t.Fatalf("worker-2 is %.0f px of %.0f before zooming", before, width)
	}
	wd.Click(wd.frame("python/worker-2"))
	if after, width := wd.frameWidth("python/worker-2"); math.Abs(after-width) > 2 {
		t.Errorf("after clicking, worker-2 is %.0f px of %.0f", after, width)
	}
	if w, _ := wd.frameWidth("python/worker-1"); w != 0 {
		t.Errorf("worker-1 still drawn (%.0f px) while zoomed into worker-2", w)
	}
	wd.Click(wd.Find("#reset"))
	if after, _ := wd.frameWidth("python/worker-2"); math.Abs(after-before) > 1 {
		t.Errorf("after reset, worker-2 is %.0f px, was %.0f", after, before)
	}

	// 5. View switch: the GIL wait view holds only wait states.
	wd.Click(wd.Find(`input[name=view][value=wait]`))
	var states []string
	wd.Script(&states, `return [...new Set([...document.querySelectorAll("#chart .frame")].filter(d => d.style.top === "36px").map(d => d.textContent))].sort()`)
	if strings.Join(states, ",") != "gil-wait,lock-wait" {
		t.Errorf("wait view states %q, want gil-wait and lock-wait", states)
	}
	if about := wd.Text("#about"); !strings.Contains(about, "GIL wait") {
		t.Errorf("about %q after switching to the wait view", about)
	}

	// 6. Thread filter: hiding worker-2 leaves worker-1's waits only.
	wd.Click(wd.Find("#threads-panel summary"))
	aboutAll := wd.Text("#about")
	wd.Click(wd.Find(`#threads input[data-thread="python/worker-2"]`))
	if w, _ := wd.frameWidth("python/worker-2"); w != 0 {
		t.Errorf("hidden thread drawn %.0f px wide", w)
	}
	// The total is of the threads shown (QA: it stayed that of all).
	if about := wd.Text("#about"); about == aboutAll || !strings.Contains(about, "(1 hidden)") {
		t.Errorf("about %q after hiding a thread (was %q)", about, aboutAll)
	}
	if w, width := wd.frameWidth("python/worker-1"); math.Abs(w-width) > 2 {
		t.Errorf("the only thread left is %.0f px of %.0f", w, width)
	}

	if golden.Updating() {
		screenshot(t, wd)
	}
}

// screenshot saves a page of the api-service fixture as
// docs/img/flame.png: zoomed into one handler, searching for query_db,
// hovering over a frame.
func screenshot(t *testing.T, wd flame) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "api-service.giltrace"))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	file := filepath.Join(t.TempDir(), "flame.html")
	if err := os.WriteFile(file, page(t, tr), 0o644); err != nil {
		t.Fatal(err)
	}
	wd.Navigate("file://" + file)
	wd.Click(wd.Find(`input[name=group][value=thread]`))
	wd.Type(wd.Find("#search"), "query_db")
	wd.Click(wd.frame("handler-2"))
	wd.Hover(wd.frame("gil-wait"))
	png := wd.Screenshot()
	path := filepath.Join("..", "..", "docs", "img", "flame.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// checkLabels checks that every frame's label fits its box: the whole
// name, or its start and an ellipsis, or nothing.
func checkLabels(t *testing.T, wd flame) {
	t.Helper()
	var bad []string
	wd.Script(&bad, `return [...document.querySelectorAll("#chart .frame")].filter(d => {
		const l = d.textContent, n = d.dataset.name;
		if (l !== "" && l !== n && !(l.endsWith("…") && n.startsWith(l.slice(0, -1)))) return true;
		return d.scrollWidth > d.clientWidth + 1;
	}).map(d => d.dataset.name + " as " + JSON.stringify(d.textContent) + " in " + d.clientWidth + "px")`)
	if len(bad) > 0 {
		t.Errorf("labels that do not fit: %q", bad)
	}
}

// TestBrowserWarnings: the page of a run on a busy machine says so above
// the graph, in the report's words.
func TestBrowserWarnings(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	tr := testkit.Countdown(3)
	if tr.Meta.Extra == nil {
		tr.Meta.Extra = map[string]string{}
	}
	tr.Meta.Extra["cpu_ns"] = strconv.FormatInt(tr.Duration()/10, 10)
	s := tracer.Derive(tr)
	var html bytes.Buffer
	if err := flamegraph.NewHTML(&html).WithWarnings(report.Warnings(s)).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "flame.html")
	if err := os.WriteFile(file, html.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := flame{browser.Start(t)}
	wd.Navigate("file://" + file)
	var warnings []string
	wd.Script(&warnings, `return [...document.querySelectorAll("#warnings .warning")].map(p => p.textContent)`)
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "Warning: busy machine: the run obtained 10 % of the CPU time") {
		t.Errorf("the page's warnings: %q", warnings)
	}
}
