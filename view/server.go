package view

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/tracer"
)

// PerfettoOrigin is the Perfetto UI that the page's button opens.
const PerfettoOrigin = chrome.PerfettoOrigin

// Options are what the page shows.
type Options struct {
	Spans  *tracer.Spans     // the run's spans (tracer.Derive)
	Report *diagnosis.Report // the run's diagnosis (diagnosis.Analyze of Spans)
	Title  string            // the run's name, for the page's title
	Dir    string            // the run's directory: compare charts are looked for in it, in Dir/compare and (the what-if's) in Dir/whatif; "" for none
	// PerfettoOrigin is the UI the Perfetto button opens; "" is
	// PerfettoOrigin (tests give a stand-in).
	PerfettoOrigin string
}

// New returns the handler of the page for the run of o. It builds the
// pprof profiles once; the handler may serve requests concurrently. Close
// releases the temporary files of pprof's source view.
func New(o Options) (*Handler, error) {
	if o.PerfettoOrigin == "" {
		o.PerfettoOrigin = PerfettoOrigin
	}
	h := &Handler{o: o, mux: http.NewServeMux(), timeline: newTimeline(o.Spans)}
	h.warnings, _ = report.Notices(o.Report, o.Spans.Trace.Status())
	h.whatIf = readWhatIf(o.Dir, o.Report)
	h.charts = findCharts(o.Dir)
	if p, ok := h.charts["whatif.svg"]; ok && !WhatIfOf(filepath.Dir(p), o.Spans.Trace) {
		delete(h.charts, "whatif.svg") // another run's prediction
	}
	if err := h.mountPprof(); err != nil {
		h.Close()
		return nil, err
	}
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /timeline.json", h.timelineJSON)
	h.mux.HandleFunc("GET /flame.html", h.flame)
	h.mux.HandleFunc("GET /trace", h.trace)
	h.mux.HandleFunc("GET /compare/{name}", h.chart)
	h.mux.Handle("/perfetto/", http.StripPrefix("/perfetto", chrome.Handler(o.Spans, o.Title, h.warnings)))
	return h, nil
}

// Handler is the page's HTTP handler (New).
type Handler struct {
	o        Options
	mux      *http.ServeMux
	timeline *timeline
	charts   map[string]string // file name -> path
	warnings []string          // the report's warnings, which every output of the page shows
	whatIf   string            // what would help, as record printed it for a real program (readWhatIf), or ""
	tmp      string            // pprof's source directory
}

// Close removes the handler's temporary files.
func (h *Handler) Close() error {
	if h.tmp == "" {
		return nil
	}
	return os.RemoveAll(h.tmp)
}

// ServeHTTP answers 403 to a request whose Host is not a loopback name or
// address (DNS rebinding), or that a browser marks as made by another site
// (Sec-Fetch-Site: a page elsewhere embedding or posting to this one, e.g.
// to pprof's saveconfig), and serves the others.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !LoopbackHost(r.Host) {
		http.Error(w, "giltrace view answers only requests for localhost or a loopback address", http.StatusForbidden)
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		http.Error(w, "giltrace view answers only its own pages", http.StatusForbidden)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && r.Method != http.MethodGet && r.Method != http.MethodHead && !loopbackOrigin(o) {
		// A form or script of another origin posting here, from a
		// browser that does not send Sec-Fetch-Site (QA: pprof's
		// saveconfig wrote ~/.config/pprof/settings.json for a POST with
		// Origin: http://evil.example).
		http.Error(w, "giltrace view answers only its own pages", http.StatusForbidden)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// loopbackOrigin reports whether an Origin header names a loopback host.
func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && LoopbackHost(u.Host)
}

// LoopbackHost reports whether host (a Host header: a name or address,
// with or without a port) is localhost or a loopback IP address.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// chartNames are the charts of giltrace compare that the page shows, and
// the what-if chart that record writes for a real program (whatif/).
var chartNames = []string{"speedup.svg", "overlap.svg", "whatif.svg"}

// readWhatIf is the part "What would help" of the report.txt that record
// wrote in dir for a real program, when that file is the report of the
// run of r (its first line, naming the run and its size, is r's): the
// prediction takes seconds of simulation, which record made once; "" when
// there is none.
func readWhatIf(dir string, r *diagnosis.Report) string {
	if dir == "" || r == nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil || len(b) > 16<<20 {
		return ""
	}
	text := string(b)
	if got, _, _ := strings.Cut(text, "\n"); got != report.RunLine(r) {
		return "" // another run's report
	}
	i := strings.Index(text, "\nWhat would help (")
	if i < 0 {
		return ""
	}
	return strings.TrimRight(text[i+1:], "\n")
}

// WhatIfOf reports whether the what-if prediction in dir (whatif.json,
// beside its chart: record's whatif/, or compare's -o directory) is of the
// run of t: the same workload and wall.
func WhatIfOf(dir string, t *tracer.Trace) bool {
	b, err := os.ReadFile(filepath.Join(dir, "whatif.json"))
	if err != nil || len(b) > 64<<20 {
		return false
	}
	var p struct {
		Workload string `json:"workload"`
		WallNS   int64  `json:"measured_wall_ns"`
	}
	return json.Unmarshal(b, &p) == nil && p.Workload == t.Meta.Workload && p.WallNS == t.Duration()
}

// findCharts looks for the charts in dir, dir/compare and dir/whatif.
func findCharts(dir string) map[string]string {
	found := map[string]string{}
	if dir == "" {
		return found
	}
	for _, name := range chartNames {
		for _, d := range []string{dir, filepath.Join(dir, "compare"), filepath.Join(dir, "whatif")} {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				found[name] = p
				break
			}
		}
	}
	return found
}

func (h *Handler) chart(w http.ResponseWriter, r *http.Request) {
	p, ok := h.charts[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	http.ServeFile(w, r, p)
}

func (h *Handler) flame(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := flamegraph.NewHTML(w).WithWarnings(h.warnings).Export(r.Context(), h.o.Spans); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// trace serves the trace for the Perfetto UI.
func (h *Handler) trace(w http.ResponseWriter, r *http.Request) {
	name, write := traceFormat(h.o.Spans, h.warnings)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Trace-File", name)
	if err := write(r.Context(), w); err != nil {
		// Headers are gone with the first bytes: the page sees a short body.
		http.Error(w, fmt.Sprintf("writing the trace: %v", err), http.StatusInternalServerError)
	}
}
