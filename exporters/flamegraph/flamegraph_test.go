package flamegraph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

var views = []flamegraph.View{flamegraph.ViewWall, flamegraph.ViewWait, flamegraph.ViewBlame}

func folded(t testing.TB, tr *tracer.Trace, v flamegraph.View) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := flamegraph.NewFoldedView(&buf, v).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatalf("exporting folded %v: %v", v, err)
	}
	return buf.Bytes()
}

func page(t testing.TB, tr *tracer.Trace) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := flamegraph.NewHTML(&buf).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatalf("exporting HTML: %v", err)
	}
	return buf.Bytes()
}

// pageData is the JSON data embedded in a page.
func pageData(t testing.TB, html []byte) []byte {
	t.Helper()
	const open = `<script type="application/json" id="data">`
	_, rest, ok := bytes.Cut(html, []byte(open))
	data, _, ok2 := bytes.Cut(rest, []byte("</script>"))
	if !ok || !ok2 {
		t.Fatal("page has no data script")
	}
	return data
}

// TestGolden checks the folded stacks of every view and the page's data
// of every trace against testdata/CASE.VIEW.folded and CASE.html.json, and
// that exporting twice gives the same bytes.
func TestGolden(t *testing.T) {
	for _, c := range testkit.All(t) {
		t.Run(c.Name, func(t *testing.T) {
			for _, v := range views {
				got := folded(t, c.Trace, v)
				if !bytes.Equal(got, folded(t, c.Trace, v)) {
					t.Errorf("two %v exports differ", v)
				}
				golden.Check(t, filepath.Join("testdata", c.Name+"."+v.String()+".folded"), got)
			}
			html := page(t, c.Trace)
			if !bytes.Equal(html, page(t, c.Trace)) {
				t.Error("two HTML exports differ")
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, pageData(t, html), "", " "); err != nil {
				t.Fatalf("page data is not JSON: %v", err)
			}
			indented.WriteByte('\n')
			golden.Check(t, filepath.Join("testdata", c.Name+".html.json"), indented.Bytes())
		})
	}
}

// parseFolded returns the lines of folded stacks as frames and values.
func parseFolded(t testing.TB, b []byte) (stacks [][]string, values []int64) {
	t.Helper()
	var prev []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSuffix(line, "\n")
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("folded line %q has no value", line)
		}
		v, err := strconv.ParseInt(line[i+1:], 10, 64)
		if err != nil || v <= 0 {
			t.Fatalf("folded line %q: bad value", line)
		}
		frames := strings.Split(line[:i], ";")
		if slices.Compare(frames, prev) <= 0 {
			t.Errorf("folded stacks not sorted by frames or repeated: %q after %q", frames, prev)
		}
		prev = frames
		stacks = append(stacks, frames)
		values = append(values, v)
	}
	return stacks, values
}

// TestFoldedTotals checks the folded stacks' sums against the spans: the
// wall view sums to the threads' wall times and each state to its total;
// the wait and blame views to the waits.
func TestFoldedTotals(t *testing.T) {
	for _, c := range testkit.All(t) {
		t.Run(c.Name, func(t *testing.T) {
			s := tracer.Derive(c.Trace)
			var wall, waits int64
			states := map[string]int64{}
			for _, th := range s.Threads {
				wall += th.End - th.Start
				for st, ns := range s.ThreadTotals(th.Thread) {
					states[tracer.State(st).String()] += ns
				}
			}
			for _, w := range s.Waits {
				waits += w.End - w.Start
			}
			stacks, values := parseFolded(t, folded(t, c.Trace, flamegraph.ViewWall))
			var sum int64
			gotStates := map[string]int64{}
			for i, st := range stacks {
				sum += values[i]
				gotStates[st[1]] += values[i]
			}
			if sum != wall {
				t.Errorf("wall: folded stacks sum to %d ns, threads' wall times to %d", sum, wall)
			}
			for st, ns := range states {
				if gotStates[st] != ns {
					t.Errorf("wall: state %s sums to %d ns, spans to %d", st, gotStates[st], ns)
				}
			}
			for _, v := range []flamegraph.View{flamegraph.ViewWait, flamegraph.ViewBlame} {
				_, values := parseFolded(t, folded(t, c.Trace, v))
				var sum int64
				for _, x := range values {
					sum += x
				}
				if sum != waits {
					t.Errorf("%v: folded stacks sum to %d ns, waits to %d", v, sum, waits)
				}
			}
		})
	}
}

// TestSanitize checks that ';' and line breaks in names cannot break the
// folded format.
func TestSanitize(t *testing.T) {
	b := testkit.New("odd names")
	p := b.Process("py", 1)
	f := b.Func("a;b\nc", 3)
	th := b.Thread(p, "thread;1\r\n")
	th.Start(0).Acquire(10, 0, tracer.AcquireUncontended).Call(20, f).Return(1000).Release(1010, 0, tracer.ReleaseThreadEnd).End(1020)
	tr := b.Trace()
	stacks, _ := parseFolded(t, folded(t, tr, flamegraph.ViewWall))
	want := []string{"thread:1  ", "running", "a:b c (test.yaml:3)"}
	found := false
	for _, st := range stacks {
		if len(st) < 2 || st[0] != want[0] {
			t.Errorf("stack %q: thread frame not sanitised", st)
		}
		if len(st) == 3 && st[2] == want[2] {
			found = true
		}
	}
	if !found {
		t.Errorf("no stack %q in %q", want, stacks)
	}
	// The page is valid JSON whatever the names.
	var v any
	if err := json.Unmarshal(pageData(t, page(t, tr)), &v); err != nil {
		t.Errorf("page data: %v", err)
	}
}

// TestPageSafe checks that names cannot close the data's script element.
func TestPageSafe(t *testing.T) {
	b := testkit.New("</script><script>alert(1)</script>")
	p := b.Process("py", 1)
	th := b.Thread(p, "<b>&")
	th.Start(0).Acquire(10, 0, tracer.AcquireUncontended).Release(1010, 0, tracer.ReleaseThreadEnd).End(1020)
	html := page(t, b.Trace())
	if bytes.Contains(html, []byte("alert(1)</script>")) || bytes.Contains(html, []byte("<b>&")) {
		t.Error("a name is written unescaped into the page")
	}
	if n := bytes.Count(html, []byte("<script")); n != 2 {
		t.Errorf("page has %d script elements, want 2", n)
	}
}

func TestUnknownView(t *testing.T) {
	var buf bytes.Buffer
	if err := flamegraph.NewFoldedView(&buf, 0).Export(context.Background(), tracer.Derive(testkit.Countdown(1))); err == nil {
		t.Error("view 0 exported")
	}
}

// checkTree checks a page tree node: its children are sorted by name,
// unique, and their time is at most its own. It returns the node's time.
func checkTree(t *testing.T, names []string, n []any, path string) int64 {
	t.Helper()
	name := names[int(n[0].(float64))]
	ns := int64(n[1].(float64))
	if len(n) < 3 {
		return ns
	}
	var sum int64
	prev := ""
	for i, k := range n[2].([]any) {
		kid := k.([]any)
		kn := names[int(kid[0].(float64))]
		if i > 0 && kn <= prev {
			t.Errorf("%s/%s: children not sorted or repeated: %q after %q", path, name, kn, prev)
		}
		prev = kn
		sum += checkTree(t, names, kid, path+"/"+name)
	}
	if sum > ns {
		t.Errorf("%s/%s: children sum to %d ns, more than its %d", path, name, sum, ns)
	}
	return ns
}

// TestPageTrees checks the structure of every page's trees, and that each
// root's time is the sum of its view's folded stacks.
func TestPageTrees(t *testing.T) {
	// Names that sort differently as frames and as joined lines ("a" <
	// "a b" but "a;x" > "a b") must still merge into one tree.
	b := testkit.New("names")
	p := b.Process("py", 1)
	fa, fab, fx := b.Func("a", 0), b.Func("a b", 0), b.Func("x", 0)
	th := b.Thread(p, "T")
	th.Start(0).Acquire(10, 0, tracer.AcquireUncontended).Call(20, fa).Return(100).Call(200, fab).Return(300).
		Call(400, fa).Call(500, fx).Return(600).Return(700).Release(800, 0, tracer.ReleaseThreadEnd).End(900)
	cases := append(testkit.All(t), testkit.Case{Name: "names", Trace: b.Trace()})
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var data struct {
				Names []string
				Views []struct {
					ID   string
					Tree []any
				}
			}
			if err := json.Unmarshal(pageData(t, page(t, c.Trace)), &data); err != nil {
				t.Fatal(err)
			}
			if len(data.Views) != len(views) {
				t.Fatalf("%d views, want %d", len(data.Views), len(views))
			}
			for i, v := range data.Views {
				if v.ID != views[i].String() {
					t.Errorf("view %d is %q, want %q", i, v.ID, views[i])
				}
				_, values := parseFolded(t, folded(t, c.Trace, views[i]))
				var sum int64
				for _, x := range values {
					sum += x
				}
				if got := checkTree(t, data.Names, v.Tree, v.ID); got != sum {
					t.Errorf("%s: root is %d ns, folded stacks sum to %d", v.ID, got, sum)
				}
			}
		})
	}
}

// TestEmpty checks that a trace without events gives no stacks and a page.
func TestEmpty(t *testing.T) {
	tr := testkit.New("empty").Trace()
	for _, v := range views {
		if got := folded(t, tr, v); len(got) != 0 {
			t.Errorf("%v: %q", v, got)
		}
	}
	var data any
	if err := json.Unmarshal(pageData(t, page(t, tr)), &data); err != nil {
		t.Error(err)
	}
}

// TestMetaSaysSimulated: the page of a virtual-time run says it was
// simulated, with its seed and simulated cores (QA: it showed
// GOMAXPROCS and a start in 1970, nothing of the clock).
func TestMetaSaysSimulated(t *testing.T) {
	tr := testkit.Countdown(2)
	tr.Meta.Extra = map[string]string{"clock": "virtual", "seed": "7"}
	tr.Meta.Cores = 4
	var buf bytes.Buffer
	if err := flamegraph.NewHTML(&buf).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.Contains(got, "clock: virtual (simulated, seed 7; docs/vm.md), simulated cores: 4") || strings.Contains(got, "GOMAXPROCS") {
		t.Errorf("the page of a virtual run does not say it was simulated")
	}
}
