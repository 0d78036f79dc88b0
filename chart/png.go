package chart

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// WritePNG draws the chart as a PNG: the same layout as WriteSVG,
// rasterised with golang.org/x/image/vector (anti-aliased) and its 7x13
// bitmap font.
func (c *Chart) WritePNG(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	c.lay().draw(&pngCanvas{img: img})
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("writing chart png: %w", err)
	}
	return nil
}

type pngCanvas struct{ img *image.RGBA }

// fill fills the polygon pts with c. The rasterizer covers only the
// polygon's bounding box: a full-canvas one per shape costs a canvas-sized
// buffer each time.
func (p *pngCanvas) fill(pts [][2]float64, c color.RGBA) {
	if len(pts) < 3 {
		return
	}
	minX, minY, maxX, maxY := pts[0][0], pts[0][1], pts[0][0], pts[0][1]
	for _, q := range pts[1:] {
		minX, minY = math.Min(minX, q[0]), math.Min(minY, q[1])
		maxX, maxY = math.Max(maxX, q[0]), math.Max(maxY, q[1])
	}
	x0, y0 := int(math.Floor(minX)), int(math.Floor(minY))
	w, h := int(math.Ceil(maxX))-x0+1, int(math.Ceil(maxY))-y0+1
	z := vector.NewRasterizer(w, h)
	z.MoveTo(float32(pts[0][0]-float64(x0)), float32(pts[0][1]-float64(y0)))
	for _, q := range pts[1:] {
		z.LineTo(float32(q[0]-float64(x0)), float32(q[1]-float64(y0)))
	}
	z.ClosePath()
	z.Draw(p.img, image.Rect(x0, y0, x0+w, y0+h), image.NewUniform(c), image.Point{})
}

// segment fills the rectangle of width w around the segment a-b.
func (p *pngCanvas) segment(ax, ay, bx, by, w float64, c color.RGBA) {
	dx, dy := bx-ax, by-ay
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	nx, ny := -dy/l*w/2, dx/l*w/2
	p.fill([][2]float64{{ax + nx, ay + ny}, {bx + nx, by + ny}, {bx - nx, by - ny}, {ax - nx, ay - ny}}, c)
}

func (p *pngCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64, dash [2]float64) {
	if dash[0] <= 0 {
		p.segment(x1, y1, x2, y2, width, c)
		return
	}
	l := math.Hypot(x2-x1, y2-y1)
	ux, uy := (x2-x1)/l, (y2-y1)/l
	for at := 0.0; at < l; at += dash[0] + dash[1] {
		end := math.Min(at+dash[0], l)
		p.segment(x1+ux*at, y1+uy*at, x1+ux*end, y1+uy*end, width, c)
	}
}

func (p *pngCanvas) dot(x, y, r float64, c color.RGBA, square bool) {
	if square {
		p.fill([][2]float64{{x - r, y - r}, {x + r, y - r}, {x + r, y + r}, {x - r, y + r}}, c)
		return
	}
	const n = 20
	pts := make([][2]float64, n)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / n
		pts[i] = [2]float64{x + r*math.Cos(a), y + r*math.Sin(a)}
	}
	p.fill(pts, c)
}

func (p *pngCanvas) text(x, y float64, s string, c color.RGBA, anchor int) {
	face := basicfont.Face7x13
	d := &font.Drawer{Dst: p.img, Src: image.NewUniform(c), Face: face}
	w := d.MeasureString(s).Round()
	x -= float64(w) * float64(anchor+1) / 2
	d.Dot = fixed.P(int(math.Round(x)), int(math.Round(y)))
	d.DrawString(s)
}
