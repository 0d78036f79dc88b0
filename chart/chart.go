// Package chart draws giltrace's line charts (speedup against workers) as
// SVG and as PNG, with the same layout for both, by hand on
// golang.org/x/image rather than with a plotting library (gonum/plot would
// bring nine modules for two line charts). compare draws its speedup and
// overlap charts with it; view and the tutorial can draw the same.
package chart

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"
)

// The chart is laid out once, in pixels, and drawn by a canvas: SVG text
// or a PNG raster. Both show the same picture.
const (
	Width, Height = 760, 480
	marginLeft    = 70
	marginRight   = 200 // the legend
	marginTop     = 50
	marginBottom  = 60
)

var (
	colInk   = color.RGBA{0x22, 0x22, 0x22, 0xff}
	colGrid  = color.RGBA{0xe0, 0xe0, 0xe0, 0xff}
	colIdeal = color.RGBA{0x88, 0x88, 0x88, 0xff}
)

// canvas draws in pixels, y downwards.
type canvas interface {
	line(x1, y1, x2, y2 float64, c color.RGBA, width float64, dash [2]float64)
	dot(x, y, r float64, c color.RGBA, square bool)
	text(x, y float64, s string, c color.RGBA, anchor int) // anchor: -1 start, 0 middle, 1 end; y is the baseline
}

// Series is one line of a chart: points (x, y) joined in x order, in a
// colour, a dash pattern (on, off pixels; zero for solid) and with round or
// square markers.
type Series struct {
	Name   string
	Color  color.RGBA
	Dash   [2]float64
	Square bool
	Points [][2]float64
}

// Chart is a line chart of speedups (or any factor) against a count of
// workers: the series, the ideal line y = x, and a horizontal line at the
// machine's cores. It is drawn the same as SVG text and as a PNG raster.
type Chart struct {
	Title  string
	XLabel string
	YLabel string
	Cores  int // a horizontal line at y = Cores; 0 for none
	Series []Series
	// Ideal names the line y = x in the legend: "x threads" (the
	// default) for speedups against threads, "x cores" against cores.
	Ideal string
}

// layout is a Chart's scales and ticks, in pixels.
type layout struct {
	*Chart
	maxX, maxY float64
	xticks     []int
	ystep      float64
}

// lay computes the axes: x ticks at every point's x, y up to the highest
// point, the ideal line's end or the cores, on a 1-2-5 step; but when
// those are more than squashY times the highest point, up to a little
// above it, the ideal line and the cores cut off (QA: at 64 cores every
// curve of a what-if, 1.43x at most, lay flat at the bottom).
func (c *Chart) lay() *layout {
	ch := &layout{Chart: c}
	for _, s := range c.Series {
		for _, p := range s.Points {
			if x := int(p[0]); !slices.Contains(ch.xticks, x) {
				ch.xticks = append(ch.xticks, x)
			}
			ch.maxX = max(ch.maxX, p[0])
			ch.maxY = max(ch.maxY, p[1])
		}
	}
	slices.Sort(ch.xticks)
	ch.maxX = max(ch.maxX, 2)
	if top := max(ch.maxY, ch.maxX, float64(c.Cores)); top <= squashY*ch.maxY {
		ch.maxY = top
	} else {
		ch.maxY = max(ch.maxY*1.25, 2)
	}
	ch.ystep = niceStep(ch.maxY)
	ch.maxY = math.Ceil(ch.maxY/ch.ystep) * ch.ystep
	return ch
}

// squashY: the y axis goes up to the ideal line's end and the cores unless
// they are more than this many times the highest point (lay).
const squashY = 8

// minTickGap is the least distance, in pixels, between two x tick labels:
// a closer label is left out (QA: "1" and "2" ran together as "12" on an
// axis to 64).
const minTickGap = 22

// xlabels are the x ticks labelled: from the first, each at least
// minTickGap from the one before, and the last, whose neighbour gives way.
func (ch *layout) xlabels() []int {
	var ls []int
	for i, n := range ch.xticks {
		if len(ls) > 0 && ch.px(float64(n))-ch.px(float64(ls[len(ls)-1])) < minTickGap {
			if i != len(ch.xticks)-1 {
				continue
			}
			if len(ls) > 1 {
				ls = ls[:len(ls)-1]
			}
		}
		ls = append(ls, n)
	}
	return ls
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

func (ch *layout) px(x float64) float64 {
	return marginLeft + x/ch.maxX*(Width-marginLeft-marginRight)
}

func (ch *layout) py(y float64) float64 {
	return Height - marginBottom - y/ch.maxY*(Height-marginTop-marginBottom)
}

// draw draws the chart on c.
func (ch *layout) draw(c canvas) {
	x0, x1 := ch.px(0), ch.px(ch.maxX)
	y0, y1 := ch.py(0), ch.py(ch.maxY)
	none := [2]float64{}
	// Grid and ticks.
	for y := 0.0; y <= ch.maxY+1e-9; y += ch.ystep {
		c.line(x0, ch.py(y), x1, ch.py(y), colGrid, 1, none)
		c.text(x0-8, ch.py(y)+4, trimFloat(y), colInk, 1)
	}
	labels := ch.xlabels()
	for _, n := range ch.xticks {
		c.line(ch.px(float64(n)), y0, ch.px(float64(n)), y1, colGrid, 1, none)
		if slices.Contains(labels, n) {
			c.text(ch.px(float64(n)), y0+18, fmt.Sprint(n), colInk, 0)
		}
	}
	c.line(x0, y0, x1, y0, colInk, 1.5, none)
	c.line(x0, y0, x0, y1, colInk, 1.5, none)
	c.text((x0+x1)/2, Height-18, ch.XLabel, colInk, 0)
	c.text(x0, marginTop-12, ch.YLabel, colInk, 0)
	c.text(Width/2, 24, ch.Title, colInk, 0)
	// The ideal line y = x, and the cores.
	e := min(ch.maxX, ch.maxY) // cut off at the top (lay)
	c.line(ch.px(1), ch.py(1), ch.px(e), ch.py(e), colIdeal, 1.5, [2]float64{6, 4})
	if ch.Cores > 0 && float64(ch.Cores) <= ch.maxY {
		c.line(x0, ch.py(float64(ch.Cores)), x1, ch.py(float64(ch.Cores)), colIdeal, 1, [2]float64{2, 3})
	}
	for _, s := range ch.Series {
		pts := slices.Clone(s.Points)
		slices.SortStableFunc(pts, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			c.line(ch.px(a[0]), ch.py(a[1]), ch.px(b[0]), ch.py(b[1]), s.Color, 2.5, s.Dash)
		}
		for _, p := range pts {
			c.dot(ch.px(p[0]), ch.py(p[1]), 4, s.Color, s.Square)
		}
	}
	ch.legend(c)
}

func (ch *layout) legend(c canvas) {
	x := float64(Width - marginRight + 20)
	y := float64(marginTop + 10)
	item := func(name string, col color.RGBA, width float64, dash [2]float64, marker, square bool) {
		c.line(x, y-4, x+30, y-4, col, width, dash)
		if marker {
			c.dot(x+15, y-4, 4, col, square)
		}
		c.text(x+40, y, name, colInk, -1)
		y += 22
	}
	for _, s := range ch.Series {
		item(s.Name, s.Color, 2.5, s.Dash, true, s.Square)
	}
	item("ideal ("+cmp.Or(ch.Ideal, "x threads")+")", colIdeal, 1.5, [2]float64{6, 4}, false, false)
	switch {
	case ch.Cores > 0 && float64(ch.Cores) <= ch.maxY:
		item(fmt.Sprintf("cores (%d)", ch.Cores), colIdeal, 1, [2]float64{2, 3}, false, false)
	case ch.Cores > 0:
		item(fmt.Sprintf("cores (%d, above)", ch.Cores), colIdeal, 1, [2]float64{2, 3}, false, false)
	}
}

// trimFloat is 2 for 2.0 and 2.5 for 2.5.
func trimFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// WriteSVG draws the chart as SVG.
func (c *Chart) WriteSVG(w io.Writer) error {
	s := &svgCanvas{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", Width, Height, Width, Height)
	fmt.Fprintf(&s.b, `<rect width="%d" height="%d" fill="white"/>`+"\n", Width, Height)
	c.lay().draw(s)
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
