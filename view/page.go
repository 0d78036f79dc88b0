package view

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"os/exec"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

//go:embed page.html
var pageHTML string

//go:embed page.css
var pageCSS string

//go:embed page.js
var pageJS string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"dur": textfmt.Dur, "pct": textfmt.Pct, "x": textfmt.X, "plural": textfmt.Plural,
	"css": func() template.CSS { return template.CSS(pageCSS) },
	"js":  func() template.JS { return template.JS(pageJS) },
}).Parse(pageHTML))

// stateColors are the states' colours, shared by the bars and the
// timeline (the flame graph's hues).
var stateColors = [tracer.NumStates]string{
	"hsl(120,45%,55%)", "hsl(0,70%,60%)", "hsl(210,60%,62%)", "hsl(275,45%,62%)", "hsl(30,80%,55%)", "hsl(50,85%,55%)",
}

// bar is a part of a thread's stacked bar.
type bar struct {
	State, Time string
	Color       template.CSS // a colour from stateColors, trusted
	Percent     float64
}

// threadBar is one thread's stacked bar.
type threadBar struct {
	Name, Process, Wall string
	Width               float64 // percent of the run's wall time
	Parts               []bar
}

// pageData is what page.html shows.
type pageData struct {
	Title  string
	R      *diagnosis.Report
	Bars   []threadBar
	States []bar // the legend
	Text   string
	// Warnings and Notes are what the text report says besides its
	// verdicts and tables (report.Notices): a busy machine, the tracing
	// cost; a real program, a stopped run, verdicts near their boundary.
	Warnings, Notes []string
	// WhatIf is what would help, as record printed it (readWhatIf).
	WhatIf string
	// Measured is the measured speedup's row (report.Measured).
	Measured       struct{ Label, Figure, About string }
	Profiles       []string
	Charts         []string
	PerfettoOrigin string
	TraceFile      string
	Colors         []string
	NoDot          bool // Graphviz's dot is missing: pprof's graph view cannot work
}

func (h *Handler) pageData() (*pageData, error) {
	r := h.o.Report
	d := &pageData{Title: h.o.Title, R: r, PerfettoOrigin: h.o.PerfettoOrigin, Colors: stateColors[:]}
	d.TraceFile, _ = traceFormat(h.o.Spans, nil)
	_, err := exec.LookPath("dot")
	d.NoDot = err != nil
	for st := range tracer.NumStates {
		d.States = append(d.States, bar{State: tracer.State(st).String(), Color: template.CSS(stateColors[st])})
	}
	for _, th := range r.Threads {
		b := threadBar{Name: th.Name, Process: th.Process, Wall: textfmt.Dur(th.WallNS), Width: 100}
		if r.WallNS > 0 {
			b.Width = min(100, 100*float64(th.WallNS)/float64(r.WallNS))
		}
		for st := range tracer.NumStates {
			ns := th.Time(tracer.State(st))
			if ns == 0 || th.WallNS == 0 {
				continue
			}
			b.Parts = append(b.Parts, bar{State: tracer.State(st).String(), Color: template.CSS(stateColors[st]),
				Time: textfmt.Dur(ns), Percent: 100 * float64(ns) / float64(th.WallNS)})
		}
		d.Bars = append(d.Bars, b)
	}
	var text bytes.Buffer
	if err := report.WriteText(&text, r); err != nil {
		return nil, err
	}
	d.Text = text.String()
	d.Warnings, d.Notes = report.Notices(r, h.o.Spans.Trace.Status())
	d.Measured.Label, d.Measured.Figure, d.Measured.About = report.Measured(r)
	d.WhatIf = h.whatIf
	for _, k := range Profiles {
		d.Profiles = append(d.Profiles, k.String())
	}
	for _, name := range chartNames {
		if _, ok := h.charts[name]; ok {
			d.Charts = append(d.Charts, name)
		}
	}
	return d, nil
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	d, err := h.pageData()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}
