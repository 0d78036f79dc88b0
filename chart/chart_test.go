package chart

import (
	"bytes"
	"image/png"
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
