package report

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
)

// Notices are what the text report says around its verdicts besides the
// run's name and size (st is its trace's state, as the text says it), for
// a page that shows the report in parts (giltrace view) and must not leave
// them out: warnings are what distorts the figures (a busy machine, CPU
// time outside the traced threads, a real program's tracing cost); notes
// say how the trace is cut short, where the run comes from (simulated, a
// real CPython program), how it ended (stopped, failed, events lost,
// processes not traced), the wait for the cores, and the verdicts not
// given that came near their boundary. Each is one paragraph of plain
// text, in the report's order.
func Notices(r *diagnosis.Report, st tracer.Status) (warnings, notes []string) {
	warnings = warningsOf(r)
	for _, q := range cutShort(&r.Summary) {
		notes = append(notes, "Trace: "+q)
	}
	if st.Interrupted || st.Salvaged != "" {
		notes = append(notes, fmt.Sprintf("Trace: %s: the numbers cover the part of the run it holds", st))
	}
	lines := strings.Split(headline(&r.Summary), "\n")
	notes = append(notes, lines[1:]...)
	if cw := r.CoreWait; cw != nil {
		notes = append(notes, cw.Text)
	}
	var b bytes.Buffer
	writeNear(&b, r)
	for _, l := range strings.Split(b.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			notes = append(notes, strings.ToUpper(l[:1])+l[1:])
		}
	}
	return warnings, notes
}

// RunLine is the text report's first line: the run's name and size
// (giltrace view tells a saved report.txt of this run by it).
func RunLine(r *diagnosis.Report) string {
	line, _, _ := strings.Cut(headline(&r.Summary), "\n")
	return line
}

// Warnings are the caveats of the run of s (diagnosis.Caveats: a busy
// machine, CPU time outside the traced threads, a real program's tracing
// cost, its I/O on its own pipes and connections) in the report's words, each a
// paragraph without its "Warning: ": what every output flags, the
// exporters' too. A few milliseconds for a million events.
func Warnings(s *tracer.Spans) []string {
	if x := s.Trace.Meta.Extra; x[diagnosis.ExtraCPU] == "" && x["source"] != "cpython" {
		return nil // neither figure recorded: no summary to make
	}
	sum := diagnosis.Summarize(s)
	m, c, o, io := diagnosis.Caveats(s, sum)
	return warningsOf(&diagnosis.Report{Summary: *sum, Machine: m, TracingCost: c, OwnIO: o, CoreIO: io})
}

// warningsOf are the report's warnings of r.
func warningsOf(r *diagnosis.Report) []string {
	var b bytes.Buffer
	writeMachine(&b, r)
	writeTracingCost(&b, r)
	writeOwnIO(&b, r)
	writeCoreIO(&b, r)
	var warnings []string
	for _, p := range strings.Split(b.String(), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			warnings = append(warnings, strings.TrimPrefix(p, "Warning: "))
		}
	}
	return warnings
}
