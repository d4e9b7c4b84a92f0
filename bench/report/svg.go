package report

import (
	"fmt"
	"math"
	"strings"
)

// The figures are hand-written SVG: this file computes their geometry
// (positions in SVG user units) and html.tmpl draws it, so every label
// passes through html/template's escaping. docs/BENCH.md ("Report") says
// why no chart library.

// palette holds the series colours (Tableau 10, readable on white).
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

// color returns series i's colour; past the palette, colours repeat with a
// dashed line (see dashed).
func color(i int) string { return palette[i%len(palette)] }

// dashed reports whether series i repeats a colour and is drawn dashed.
func dashed(i int) bool { return i >= len(palette) }

// Chart geometry: every figure is Width × Height user units, the plot area
// [plotX0, plotX1] × [plotY0, plotY1], the legend to its right (x 390).
const (
	chartW, chartH = 640, 380
	plotX0, plotX1 = 64, 370
	plotY0, plotY1 = 30, 320
)

// legendStep is the spacing of n legend lines: 18 units, less when that
// would run past the chart's bottom.
func legendStep(n int) float64 {
	return min(18, float64(chartH-plotY0-10)/float64(max(n, 1)))
}

// mark is one drawn point: where, its tooltip and what it links to.
type mark struct {
	X, Y  float64
	Title string
	Href  string
}

// tick is one labelled axis position.
type tick struct {
	Pos   float64
	Label string
}

// legendItem is one line of a legend.
type legendItem struct {
	Label  string
	Color  string
	Dashed bool
	Y      float64
}

// plotSeries is one series of a scatter/line chart.
type plotSeries struct {
	Label  string
	Color  string
	Dashed bool
	Line   string // polyline points, "" for points only
	Marks  []mark
}

// scatter is an x–y chart: axes, ticks, series and a legend.
type scatter struct {
	ID, Title      string
	XLabel, YLabel string
	Width, Height  int
	X0, X1, Y0, Y1 float64
	XTicks, YTicks []tick
	Series         []plotSeries
	Legend         []legendItem
	// Empty is the text shown instead of a plot when there is no data.
	Empty string
	// Notes lists what could not be placed, and why.
	Notes []string
	// Marks counts the drawn marks (the browser test checks it).
	Marks int
}

// axis maps data values to SVG positions on one axis, linear or log10.
type axis struct {
	lo, hi float64 // data range (log10 of it for a log axis)
	p0, p1 float64 // SVG positions of lo and hi
	log    bool
	ticks  []tick
}

func (a axis) pos(v float64) float64 {
	if a.log {
		v = math.Log10(v)
	}
	if a.hi == a.lo {
		return (a.p0 + a.p1) / 2
	}
	return a.p0 + (v-a.lo)/(a.hi-a.lo)*(a.p1-a.p0)
}

// linearAxis returns an axis over [lo, hi] widened to "nice" tick steps
// (1, 2 or 5 × a power of ten), about five ticks.
func linearAxis(lo, hi, p0, p1 float64) axis {
	if lo == hi {
		pad := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-pad, hi+pad
	}
	step := niceStep((hi - lo) / 5)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	a := axis{lo: lo, hi: hi, p0: p0, p1: p1}
	for v := lo; v <= hi+step/2; v += step {
		a.ticks = append(a.ticks, tick{a.pos(v), formatTick(v, step)})
	}
	return a
}

// niceStep rounds x up to 1, 2 or 5 × a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func formatTick(v, step float64) string {
	d := max(0, -int(math.Floor(math.Log10(step))))
	return fmt.Sprintf("%.*f", d, v)
}

// logAxis returns a log10 axis over [lo, hi] (both > 0) from one power of
// ten below to one above, ticked at powers of ten labelled with SI
// suffixes (1k, 10M, 1B).
func logAxis(lo, hi, p0, p1 float64) axis {
	a := axis{lo: math.Floor(math.Log10(lo)), hi: math.Ceil(math.Log10(hi)), p0: p0, p1: p1, log: true}
	if a.hi == a.lo {
		a.hi++
	}
	for e := a.lo; e <= a.hi; e++ {
		a.ticks = append(a.ticks, tick{a.p0 + (e-a.lo)/(a.hi-a.lo)*(a.p1-a.p0), siCount(math.Pow(10, e))})
	}
	return a
}

// siCount writes a count with a k/M/B/T suffix.
func siCount(v float64) string {
	for _, u := range []struct {
		div float64
		suf string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v/u.div), "0"), ".") + u.suf
		}
	}
	return fmt.Sprintf("%g", v)
}

// point is one data point of a scatter before layout.
type point struct {
	X, Y  float64
	Title string
	Href  string
}

// dataSeries is one series of a scatter before layout.
type dataSeries struct {
	Label  string
	Color  string
	Dashed bool
	Line   bool
	Points []point
}

// layoutScatter places the series on axes fitted to their points (an axis
// in log10 when logX or logY; its points must be positive). With no
// points it returns a chart that says "no measurements", and why (empty)
// in its notes.
// set.
func layoutScatter(id, title, xlabel, ylabel string, logX, logY bool, data []dataSeries, empty string) scatter {
	sc := scatter{ID: id, Title: title, XLabel: xlabel, YLabel: ylabel, Width: chartW, Height: chartH,
		X0: plotX0, X1: plotX1, Y0: plotY0, Y1: plotY1}
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range data {
		for _, p := range s.Points {
			xlo, xhi = math.Min(xlo, p.X), math.Max(xhi, p.X)
			ylo, yhi = math.Min(ylo, p.Y), math.Max(yhi, p.Y)
			n++
		}
	}
	if n == 0 {
		sc.Empty, sc.Notes = "no measurements", []string{empty}
		return sc
	}
	var xa axis
	if logX {
		xa = logAxis(xlo, xhi, plotX0, plotX1)
	} else {
		xa = linearAxis(xlo, xhi, plotX0, plotX1)
	}
	ya := linearAxis(ylo, yhi, plotY1, plotY0)
	if logY {
		ya = logAxis(ylo, yhi, plotY1, plotY0)
	}
	sc.XTicks, sc.YTicks = xa.ticks, ya.ticks
	y, dy := float64(plotY0), legendStep(len(data))
	for _, s := range data {
		if len(s.Points) == 0 {
			continue
		}
		ps := plotSeries{Label: s.Label, Color: s.Color, Dashed: s.Dashed}
		var line []string
		for _, p := range s.Points {
			m := mark{X: xa.pos(p.X), Y: ya.pos(p.Y), Title: p.Title, Href: p.Href}
			ps.Marks = append(ps.Marks, m)
			line = append(line, fmt.Sprintf("%.1f,%.1f", m.X, m.Y))
		}
		if s.Line && len(line) > 1 {
			ps.Line = strings.Join(line, " ")
		}
		sc.Marks += len(ps.Marks)
		sc.Series = append(sc.Series, ps)
		sc.Legend = append(sc.Legend, legendItem{Label: s.Label, Color: s.Color, Dashed: s.Dashed, Y: y})
		y += dy
	}
	return sc
}

// radar is the seed's figure: one polygon per method over the tracks'
// headline OMs, radius proportional to the OM (100 = the original model).
type radar struct {
	ID, Title     string
	Width, Height int
	CX, CY, R     float64
	Axes          []radarAxis
	Rings         []radarRing
	Series        []radarSeries
	Legend        []legendItem
	Empty         string
	Notes         []string
	// Marks counts the drawn vertices (the browser test checks it).
	Marks int
}

// radarAxis is one spoke: a track's headline OM.
type radarAxis struct {
	X, Y    float64 // the spoke's end
	LX, LY  float64 // its label
	Anchor  string  // text-anchor of the label
	Label   string
	Sub     string // a second line: the engine, or "(no data)"
	Missing bool   // the track has no OMs in this study
}

// radarRing is one grid ring with its value label.
type radarRing struct {
	Points string
	Label  string
	LX, LY float64
}

// radarSeries is one method's polygon and vertices.
type radarSeries struct {
	Label  string
	Color  string
	Dashed bool
	Points string
	Marks  []mark
}

// radarInput is one series' values per axis (NaN: no value for that axis).
type radarInput struct {
	Label  string
	Color  string
	Dashed bool
	Values []float64
	Titles []string
	Hrefs  []string
}

// layoutRadar places the series on len(labels) spokes, the first at the
// top, clockwise (a label's second line follows a newline). missing marks spokes without data (drawn grey, labelled
// so); a series' missing value sits at the centre, as the seed draws a
// method that cannot run, and its vertex is not drawn.
// radarMax is the largest OM the radar's scale shows.
const radarMax = 300.0

func layoutRadar(id, title string, labels []string, missing []bool, in []radarInput) radar {
	r := radar{ID: id, Title: title, Width: chartW, Height: chartH + 40, CX: 215, CY: 210, R: 125}
	if len(in) == 0 {
		r.Empty, r.Notes = "no measurements", []string{"No track has overall metrics in this study."}
		return r
	}
	top, clipped := 100.0, 0
	for _, s := range in {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = math.Max(top, v)
				if v > radarMax {
					clipped++
				}
			}
		}
	}
	// One track's OM far above the others (a method 30× faster than the
	// slowest on a tiny model) would shrink every other polygon to a dot:
	// the scale stops at radarMax and larger values sit on the rim.
	if top > radarMax {
		top = radarMax
		r.Notes = append(r.Notes, fmt.Sprintf("%d overall metrics above %g are drawn on the rim (their values are in the OM table and the marks' titles).", clipped, radarMax))
	}
	step := niceStep(top / 4)
	top = math.Ceil(top/step) * step
	n := len(labels)
	angle := func(i int) float64 { return -math.Pi/2 + 2*math.Pi*float64(i)/float64(n) }
	at := func(i int, v float64) (float64, float64) {
		rad := r.R * v / top
		return r.CX + rad*math.Cos(angle(i)), r.CY + rad*math.Sin(angle(i))
	}
	for i, l := range labels {
		x, y := at(i, top)
		lx, ly := at(i, top*1.14)
		anchor := "middle"
		switch c := math.Cos(angle(i)); {
		case c > 0.2:
			anchor = "start"
		case c < -0.2:
			anchor = "end"
		}
		l, sub, _ := strings.Cut(l, "\n")
		if missing[i] {
			sub = "(no data)"
		}
		r.Axes = append(r.Axes, radarAxis{X: x, Y: y, LX: lx, LY: ly + 4, Anchor: anchor, Label: l, Sub: sub, Missing: missing[i]})
	}
	for v := step; v <= top+step/2; v += step {
		var pts []string
		for i := range labels {
			x, y := at(i, v)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		lx, ly := at(0, v)
		r.Rings = append(r.Rings, radarRing{Points: strings.Join(pts, " "), Label: formatTick(v, step), LX: lx + 4, LY: ly - 2})
	}
	ly, dy := float64(plotY0), legendStep(len(in))
	for _, s := range in {
		rs := radarSeries{Label: s.Label, Color: s.Color, Dashed: s.Dashed}
		var pts []string
		for i, v := range s.Values {
			if math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", r.CX, r.CY))
				continue
			}
			x, y := at(i, math.Min(v, top))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			rs.Marks = append(rs.Marks, mark{X: x, Y: y, Title: s.Titles[i], Href: s.Hrefs[i]})
		}
		rs.Points = strings.Join(pts, " ")
		r.Marks += len(rs.Marks)
		r.Series = append(r.Series, rs)
		r.Legend = append(r.Legend, legendItem{Label: s.Label, Color: s.Color, Dashed: s.Dashed, Y: ly})
		ly += dy
	}
	return r
}
