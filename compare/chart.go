package compare

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Metric is what a chart plots against thread count.
type Metric int

// Chart metrics.
const (
	Speedup Metric = iota // measured: throughput over the same mode's one-thread run
	Overlap               // from the traces: the report's achieved speedup
)

// WriteCharts writes the charts to dir: speedup.svg and speedup.png (the
// measured speedup), overlap.svg and overlap.png (the overlap from the
// traces, which a busy machine does not distort).
func (r *Result) WriteCharts(dir string) error {
	svg := func(m Metric) func(io.Writer) error { return func(w io.Writer) error { return r.WriteSVG(w, m) } }
	png := func(m Metric) func(io.Writer) error { return func(w io.Writer) error { return r.WritePNG(w, m) } }
	for _, c := range []struct {
		name  string
		write func(io.Writer) error
	}{{"speedup.svg", svg(Speedup)}, {"speedup.png", png(Speedup)}, {"overlap.svg", svg(Overlap)}, {"overlap.png", png(Overlap)}} {
		path := filepath.Join(dir, c.name)
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("writing chart: %w", err)
		}
		err = c.write(f)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing chart %s: %w", path, cerr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// The chart is laid out once, in pixels, and drawn by a canvas: SVG text
// or a PNG raster. Both show the same picture.
const (
	chartW, chartH = 760, 480
	marginLeft     = 70
	marginRight    = 200 // the legend
	marginTop      = 50
	marginBottom   = 60
)

var (
	colInk   = color.RGBA{0x22, 0x22, 0x22, 0xff}
	colGrid  = color.RGBA{0xe0, 0xe0, 0xe0, 0xff}
	colIdeal = color.RGBA{0x88, 0x88, 0x88, 0xff}
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

// canvas draws in pixels, y downwards.
type canvas interface {
	line(x1, y1, x2, y2 float64, c color.RGBA, width float64, dash [2]float64)
	dot(x, y, r float64, c color.RGBA, square bool)
	text(x, y float64, s string, c color.RGBA, anchor int) // anchor: -1 start, 0 middle, 1 end; y is the baseline
}

// series is one line of the chart.
type series struct {
	name   string
	c      color.RGBA
	dash   [2]float64
	square bool
	pts    [][2]float64 // (threads, speedup)
}

// chart is the speedup chart of a result.
type chart struct {
	title      string
	ylabel     string
	maxX, maxY float64
	xticks     []int
	ystep      float64
	cores      int
	series     []series
}

// newChart lays out r's rows: a series per mode and requested switch
// interval, in row order, of metric m.
func newChart(r *Result, m Metric) *chart {
	ch := &chart{title: fmt.Sprintf("%s: speedup over one thread, %s (%s)", r.Workload, r.how(), r.machine()), cores: r.Cores, ylabel: "speedup"}
	value := func(row Row) float64 { return row.Speedup }
	if m == Overlap {
		ch.title = fmt.Sprintf("%s: overlap from the traces (%s)", r.Workload, r.machine())
		ch.ylabel = "overlap"
		value = func(row Row) float64 { return row.Overlap }
	}
	type key struct {
		mode     string
		interval time.Duration
	}
	var keys []key
	byKey := map[key]*series{}
	intervals := map[string]int{}
	for _, row := range r.Rows {
		k := key{row.Mode, row.interval}
		s := byKey[k]
		if s == nil {
			name := row.Mode
			if row.interval > 0 {
				name += " " + row.interval.String()
			}
			i := intervals[row.Mode]
			intervals[row.Mode]++
			s = &series{name: name, c: modeColors[row.Mode], dash: dashes[(i+modeDashes[row.Mode])%len(dashes)], square: row.Mode == Processes}
			byKey[k] = s
			keys = append(keys, k)
		}
		s.pts = append(s.pts, [2]float64{float64(row.Threads), value(row)})
		if !slices.Contains(ch.xticks, row.Threads) {
			ch.xticks = append(ch.xticks, row.Threads)
		}
		ch.maxX = max(ch.maxX, float64(row.Threads))
		ch.maxY = max(ch.maxY, value(row))
	}
	slices.Sort(ch.xticks)
	for _, k := range keys {
		s := byKey[k]
		slices.SortFunc(s.pts, func(a, b [2]float64) int { return int(a[0] - b[0]) })
		ch.series = append(ch.series, *s)
	}
	ch.maxX = max(ch.maxX, 2)
	ch.maxY = max(ch.maxY, ch.maxX, float64(ch.cores))
	ch.ystep = niceStep(ch.maxY)
	ch.maxY = math.Ceil(ch.maxY/ch.ystep) * ch.ystep
	return ch
}

// niceStep is a tick step of 1, 2 or 5 times a power of ten giving at most
// 8 ticks up to max.
func niceStep(max float64) float64 {
	for p := 0.1; ; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if max/(m*p) <= 8 {
				return m * p
			}
		}
	}
}

func (ch *chart) px(x float64) float64 {
	return marginLeft + x/ch.maxX*(chartW-marginLeft-marginRight)
}

func (ch *chart) py(y float64) float64 {
	return chartH - marginBottom - y/ch.maxY*(chartH-marginTop-marginBottom)
}

// draw draws the chart on c.
func (ch *chart) draw(c canvas) {
	x0, x1 := ch.px(0), ch.px(ch.maxX)
	y0, y1 := ch.py(0), ch.py(ch.maxY)
	none := [2]float64{}
	// Grid and ticks.
	for y := 0.0; y <= ch.maxY+1e-9; y += ch.ystep {
		c.line(x0, ch.py(y), x1, ch.py(y), colGrid, 1, none)
		c.text(x0-8, ch.py(y)+4, trimFloat(y), colInk, 1)
	}
	for _, n := range ch.xticks {
		c.line(ch.px(float64(n)), y0, ch.px(float64(n)), y1, colGrid, 1, none)
		c.text(ch.px(float64(n)), y0+18, fmt.Sprint(n), colInk, 0)
	}
	c.line(x0, y0, x1, y0, colInk, 1.5, none)
	c.line(x0, y0, x0, y1, colInk, 1.5, none)
	c.text((x0+x1)/2, chartH-18, "threads (processes in processes mode)", colInk, 0)
	c.text(x0, marginTop-12, ch.ylabel, colInk, 0)
	c.text(chartW/2, 24, ch.title, colInk, 0)
	// The ideal line y = x, and the cores.
	c.line(ch.px(1), ch.py(1), ch.px(ch.maxX), ch.py(ch.maxX), colIdeal, 1.5, [2]float64{6, 4})
	if ch.cores > 0 {
		c.line(x0, ch.py(float64(ch.cores)), x1, ch.py(float64(ch.cores)), colIdeal, 1, [2]float64{2, 3})
	}
	for _, s := range ch.series {
		for i := 1; i < len(s.pts); i++ {
			a, b := s.pts[i-1], s.pts[i]
			c.line(ch.px(a[0]), ch.py(a[1]), ch.px(b[0]), ch.py(b[1]), s.c, 2.5, s.dash)
		}
		for _, p := range s.pts {
			c.dot(ch.px(p[0]), ch.py(p[1]), 4, s.c, s.square)
		}
	}
	ch.legend(c)
}

func (ch *chart) legend(c canvas) {
	x := float64(chartW - marginRight + 20)
	y := float64(marginTop + 10)
	item := func(name string, col color.RGBA, width float64, dash [2]float64, marker, square bool) {
		c.line(x, y-4, x+30, y-4, col, width, dash)
		if marker {
			c.dot(x+15, y-4, 4, col, square)
		}
		c.text(x+40, y, name, colInk, -1)
		y += 22
	}
	for _, s := range ch.series {
		item(s.name, s.c, 2.5, s.dash, true, s.square)
	}
	item("ideal (x threads)", colIdeal, 1.5, [2]float64{6, 4}, false, false)
	if ch.cores > 0 {
		item(fmt.Sprintf("cores (%d)", ch.cores), colIdeal, 1, [2]float64{2, 3}, false, false)
	}
}

// trimFloat is 2 for 2.0 and 2.5 for 2.5.
func trimFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// WriteSVG draws the chart of metric m as SVG.
func (r *Result) WriteSVG(w io.Writer, m Metric) error {
	s := &svgCanvas{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&s.b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	newChart(r, m).draw(s)
	s.b.WriteString("</svg>\n")
	if _, err := io.WriteString(w, s.b.String()); err != nil {
		return fmt.Errorf("writing chart svg: %w", err)
	}
	return nil
}

type svgCanvas struct{ b strings.Builder }

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (s *svgCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64, dash [2]float64) {
	extra := ""
	if dash[0] > 0 {
		extra = fmt.Sprintf(` stroke-dasharray="%g %g"`, dash[0], dash[1])
	}
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g"%s/>`+"\n", x1, y1, x2, y2, hex(c), width, extra)
}

func (s *svgCanvas) dot(x, y, r float64, c color.RGBA, square bool) {
	if square {
		fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%g" height="%g" fill="%s"/>`+"\n", x-r, y-r, 2*r, 2*r, hex(c))
		return
	}
	fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="%g" fill="%s"/>`+"\n", x, y, r, hex(c))
}

func (s *svgCanvas) text(x, y float64, str string, c color.RGBA, anchor int) {
	a := [...]string{"start", "middle", "end"}[anchor+1]
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s">%s</text>`+"\n", x, y, a, hex(c), escapeXML(str))
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
