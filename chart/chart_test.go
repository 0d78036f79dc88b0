package chart

import (
	"bytes"
	"image/png"
	"slices"
	"strings"
	"testing"
)

// TestSVGAndPNG draws one chart both ways: the SVG names every series and
// the cores, and the PNG has the chart's size and the series' colour.
func TestSVGAndPNG(t *testing.T) {
	c := &Chart{Title: "t", XLabel: "workers", YLabel: "speedup", Cores: 2, Series: []Series{
		{Name: "threads", Color: colInk, Points: [][2]float64{{4, 1}, {1, 1}, {2, 1}}},
		{Name: "processes", Color: colIdeal, Square: true, Dash: [2]float64{8, 4}, Points: [][2]float64{{1, 1}, {2, 2}, {4, 2}}},
	}}
	var svg, pngb bytes.Buffer
	if err := c.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">threads<", ">processes<", ">cores (2)<", ">workers<", `stroke-dasharray="8 4"`} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("svg has no %s", want)
		}
	}
	if err := c.WritePNG(&pngb); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pngb)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != Width || b.Dy() != Height {
		t.Errorf("png is %v, want %dx%d", b, Width, Height)
	}
	// Points are joined in x order whatever their order in the series.
	l := c.lay()
	if l.maxX != 4 || len(l.xticks) != 3 || l.maxY < 4 {
		t.Errorf("layout maxX %v, xticks %v, maxY %v", l.maxX, l.xticks, l.maxY)
	}
}

// TestWideAxes: on an axis to 64, tick labels too close to the one before
// are left out (not "1" and "2" run together), the first and the last
// kept; and curves far below the ideal line's end and the cores get the
// height, the ideal line cut off at the top and the cores named above
// (QA: a what-if to 64 cores, 1.43x at most, lay flat at the bottom).
func TestWideAxes(t *testing.T) {
	var pts [][2]float64
	for _, n := range []float64{1, 2, 4, 8, 16, 32, 64} {
		pts = append(pts, [2]float64{n, min(n, 1.43)})
	}
	ch := (&Chart{Cores: 64, Series: []Series{{Name: "processes", Points: pts}}}).lay()
	if got := ch.xlabels(); !slices.Equal(got, []int{1, 4, 8, 16, 32, 64}) {
		t.Errorf("x labels %v, want 1, 4, 8, 16, 32, 64", got)
	}
	if ch.maxY > 2 {
		t.Errorf("y axis to %g for curves up to 1.43 (ideal to 64, 64 cores)", ch.maxY)
	}
	var b bytes.Buffer
	if err := (&Chart{Cores: 64, Series: []Series{{Name: "processes", Points: pts}}}).WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "cores (64, above)") {
		t.Errorf("the cores above the chart are not named so:\n%s", b.String())
	}
	// Curves that reach the ideal line keep the whole axis.
	ch = (&Chart{Cores: 2, Series: []Series{{Points: [][2]float64{{1, 1}, {2, 2}, {8, 2}}}}}).lay()
	if ch.maxY != 8 || !slices.Equal(ch.xlabels(), []int{1, 2, 8}) {
		t.Errorf("y axis to %g, labels %v; want 8 and 1, 2, 8", ch.maxY, ch.xlabels())
	}
}
