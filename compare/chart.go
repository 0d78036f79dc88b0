package compare

import (
	"fmt"
	"image/color"
	"io"
	"time"

	"github.com/giltrace/giltrace/chart"
)

// Metric is what a chart plots against thread count.
type Metric int

// Chart metrics.
const (
	Speedup Metric = iota // measured: throughput over the same mode's one-thread run
	Overlap               // from the traces: the report's achieved speedup
)

// File is one file of a comparison or a prediction (a chart, the model,
// the table): its name and what writes it. The CLI writes each atomically.
type File struct {
	Name  string
	Write func(io.Writer) error
}

// Charts returns the charts: speedup.svg and speedup.png (the measured
// speedup), overlap.svg and overlap.png (the overlap from the traces, which
// a busy machine does not distort). The CLI writes each atomically.
func (r *Result) Charts() []File {
	svg := func(m Metric) func(io.Writer) error { return func(w io.Writer) error { return r.WriteSVG(w, m) } }
	png := func(m Metric) func(io.Writer) error { return func(w io.Writer) error { return r.WritePNG(w, m) } }
	return []File{{ChartFiles[0], svg(Speedup)}, {ChartFiles[1], png(Speedup)}, {ChartFiles[2], svg(Overlap)}, {ChartFiles[3], png(Overlap)}}
}

// ChartFiles are the names of Charts' files, in their order.
var ChartFiles = []string{"speedup.svg", "speedup.png", "overlap.svg", "overlap.png"}

var (
	// One color per mode (matplotlib's first three, colour-blind friendly enough
	// when paired with distinct markers).
	modeColors = map[string]color.RGBA{
		Threads:      {0xd6, 0x27, 0x28, 0xff},
		Processes:    {0x1f, 0x77, 0xb4, 0xff},
		FreeThreaded: {0x2c, 0xa0, 0x2c, 0xff},
	}
	// Dash patterns (on, off pixels) for a mode's successive switch
	// intervals. Free-threaded starts dashed so that a processes line under
	// it shows through (both scale alike).
	dashes     = [][2]float64{{0, 0}, {8, 4}, {2, 3}, {12, 3}}
	modeDashes = map[string]int{Threads: 0, Processes: 0, FreeThreaded: 1}
)

// Chart is the chart of r's rows: a series per mode and requested switch
// interval, in row order, of metric m.
func (r *Result) Chart(m Metric) *chart.Chart {
	ch := &chart.Chart{
		Title:  fmt.Sprintf("%s: speedup over one thread, %s (%s)", r.Workload, r.how(), r.machineShort()),
		XLabel: "threads (processes in processes mode)",
		YLabel: "speedup",
		Cores:  r.Cores,
	}
	value := func(row Row) float64 { return row.Speedup }
	if m == Overlap {
		ch.Title = fmt.Sprintf("%s: overlap from the traces (%s)", r.Workload, r.machineShort())
		ch.YLabel = "overlap"
		value = func(row Row) float64 { return row.Overlap }
	}
	type key struct {
		mode     string
		interval time.Duration
	}
	index := map[key]int{}
	intervals := map[string]int{}
	for _, row := range r.Rows {
		if row.Error != "" {
			continue // failed: no point (its table row says why)
		}
		k := key{row.Mode, row.interval}
		i, ok := index[k]
		if !ok {
			name := row.Mode
			if row.interval > 0 {
				name += " " + row.interval.String()
			}
			n := intervals[row.Mode]
			intervals[row.Mode]++
			i = len(ch.Series)
			index[k] = i
			ch.Series = append(ch.Series, chart.Series{Name: name, Color: modeColors[row.Mode],
				Dash: dashes[(n+modeDashes[row.Mode])%len(dashes)], Square: row.Mode == Processes})
		}
		ch.Series[i].Points = append(ch.Series[i].Points, [2]float64{float64(row.Threads), value(row)})
	}
	return ch
}

// WriteSVG draws the chart of metric m as SVG.
func (r *Result) WriteSVG(w io.Writer, m Metric) error { return r.Chart(m).WriteSVG(w) }

// WritePNG draws the chart of metric m as PNG.
func (r *Result) WritePNG(w io.Writer, m Metric) error { return r.Chart(m).WritePNG(w) }
