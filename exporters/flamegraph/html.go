// Package flamegraph exports a trace as flame graphs: folded stacks
// (Brendan Gregg's text format) and a self-contained interactive HTML page.
//
// Every stack has two root frames, the thread and its state (running,
// gil-wait, io, native, native-holding, lock-wait), then the guest frames
// from the outermost call inwards; values are nanoseconds. Output is
// sorted, so the same trace gives the same bytes.
//
// The HTML page embeds its data, style and script: it needs no network and
// works opened from disk. It shows the wall, wait and blame views (see
// View) as an icicle graph (root at the top, like pprof's flame graph),
// coloured by state, with hover details, click to zoom, search with the
// matched percentage, and a per-thread filter.
package flamegraph

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

//go:embed flame.html
var pageHTML string

//go:embed flame.css
var pageCSS string

//go:embed flame.js
var pageJS string

// pageHead and pageTail surround the page's JSON data.
var pageHead, pageTail = func() (string, string) {
	page := strings.Replace(pageHTML, "/*STYLE*/", pageCSS, 1)
	page = strings.Replace(page, "/*SCRIPT*/", pageJS, 1)
	head, tail, ok := strings.Cut(page, "/*DATA*/")
	if !ok {
		panic("flamegraph: flame.html has no /*DATA*/ marker")
	}
	return head, tail
}()

// HTML writes the interactive flame graph page.
type HTML struct {
	w        io.Writer
	warnings []string
}

// WithWarnings makes h show the run's warnings (exporters/report.Warnings:
// a busy machine, a real program's tracing cost) above the graph, and
// returns h.
func (h *HTML) WithWarnings(warnings []string) *HTML {
	h.warnings = warnings
	return h
}

// NewHTML returns an exporter writing the HTML flame graph to w.
func NewHTML(w io.Writer) *HTML { return &HTML{w: w} }

// views are the views of the page, in the order of its switch.
var views = []struct {
	v     View
	label string
	about string
}{
	{ViewWall, "Wall time", "every thread's time in every state"},
	{ViewWait, "GIL wait", "time waiting for the GIL (and guest locks), on the waiter's stack"},
	{ViewBlame, "Blame", "waits charged to the thread holding the lock meanwhile"},
}

// Export writes the page of the spans s (tracer.Derive of a trace).
func (h *HTML) Export(ctx context.Context, s *tracer.Spans) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	bw := bufio.NewWriter(h.w)
	bw.WriteString(pageHead)
	if err := writeData(bw, s, h.warnings); err != nil {
		return err
	}
	bw.WriteString(pageTail)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing flame graph: %w", err)
	}
	return nil
}

// writeData writes the page's data as JSON:
//
//	{"title": ..., "meta": [lines], "warnings": [paragraphs, if any], "names": [frame names],
//	 "views": [{"id", "label", "about", "tree"}]}
//
// where a tree node is [name index, nanoseconds, [children]] (children
// omitted when none), the root named "all", its children the threads,
// theirs the states, then the guest frames; children sorted by name.
func writeData(bw *bufio.Writer, s *tracer.Spans, warnings []string) error {
	names := newNameTable()
	var b []byte
	b = append(b, `{"title":`...)
	b = appendJSON(b, "giltrace: "+s.Trace.Meta.Workload)
	b = append(b, `,"meta":`...)
	b = appendJSON(b, meta(s.Trace))
	if len(warnings) > 0 {
		// What distorts the run's figures (a busy machine, a real
		// program's tracing cost), shown above the graph.
		b = append(b, `,"warnings":`...)
		b = appendJSON(b, warnings)
	}
	b = append(b, `,"views":[`...)
	for i, v := range views {
		sts, err := stacks(s, v.v)
		if err != nil {
			return err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendJSON(b, v.v.String())
		b = append(b, `,"label":`...)
		b = appendJSON(b, v.label)
		b = append(b, `,"about":`...)
		b = appendJSON(b, v.about)
		b = append(b, `,"tree":`...)
		b = buildTree(sts).appendJSON(b, names)
		b = append(b, '}')
	}
	b = append(b, `],"names":`...)
	b = appendJSON(b, names.list)
	b = append(b, '}')
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("writing flame graph: %w", err)
	}
	return nil
}

// appendJSON appends v as JSON. encoding/json escapes <, > and &, so the
// result is safe inside the page's <script> element.
func appendJSON(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("flamegraph: marshaling %T: %v", v, err)) // strings and string slices always marshal
	}
	return append(b, j...)
}

// meta is the run's metadata shown on the page.
func meta(t *tracer.Trace) []string {
	m := &t.Meta
	lines := []string{
		"workload: " + m.Workload + " (" + m.WorkloadFile + ")",
		"gil mode: " + string(m.GILMode),
	}
	switch m.GILMode {
	case "cpython":
		lines = append(lines, "switch interval: "+m.SwitchInterval.String())
	case "legacy":
		lines = append(lines, "check interval: "+strconv.Itoa(m.CheckInterval))
	}
	cores := fmt.Sprintf("cores: %d, GOMAXPROCS: %d", m.Cores, m.GOMAXPROCS)
	if m.Extra["clock"] == "virtual" {
		// Said, as the pprof files and trace.json say it (QA: a page of
		// a simulated run, dated 1970, said nothing of it).
		cores = fmt.Sprintf("clock: virtual (simulated, seed %s; docs/vm.md), simulated cores: %d", m.Extra["seed"], m.Cores)
	}
	lines = append(lines,
		cores,
		"duration: "+time.Duration(t.Duration()).String(),
		fmt.Sprintf("threads: %d, processes: %d, events: %d", len(t.Threads), len(t.Procs), len(t.Events)),
	)
	if !m.Start.IsZero() {
		lines = append(lines, "start: "+m.Start.UTC().Format(time.RFC3339))
	}
	if st := t.Status(); !st.Complete() {
		lines = append(lines, "incomplete: "+st.String())
	}
	return lines
}

// nameTable interns frame names in order of first use.
type nameTable struct {
	idx  map[string]int
	list []string
}

func newNameTable() *nameTable { return &nameTable{idx: map[string]int{}} }

func (n *nameTable) id(s string) int {
	if i, ok := n.idx[s]; ok {
		return i
	}
	n.idx[s] = len(n.list)
	n.list = append(n.list, s)
	return len(n.list) - 1
}

// node is a flame graph frame: its name, total time, and children.
type node struct {
	name string
	ns   int64
	kids []*node
}

// buildTree merges stacks sorted by frames into a tree. As the stacks are
// sorted, a frame shared with the previous stack is always the last child,
// and children come out sorted by name.
func buildTree(sts []stack) *node {
	root := &node{name: "all"}
	for _, st := range sts {
		root.ns += st.ns
		n := root
		for _, f := range st.frames {
			var kid *node
			if k := len(n.kids); k > 0 && n.kids[k-1].name == f {
				kid = n.kids[k-1]
			} else {
				kid = &node{name: f}
				n.kids = append(n.kids, kid)
			}
			kid.ns += st.ns
			n = kid
		}
	}
	return root
}

func (n *node) appendJSON(b []byte, names *nameTable) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(names.id(n.name)), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, n.ns, 10)
	if len(n.kids) > 0 {
		b = append(b, ",["...)
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			b = k.appendJSON(b, names)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}
