package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llmcbench/gollm/bench"
)

// HTMLMarker is the generator meta tag of every HTML report, so that
// `gollm report` recognises a file it wrote (and replaces no other).
const HTMLMarker = `<meta name="generator" content="gollm report">`

// SamplesPerCell is how many per-sample records of each cell the HTML page
// embeds in the cell's drill-down (the first ones in scoring order); the
// drill-down says how many the samples file holds and where it is.
const SamplesPerCell = 10

//go:embed html.tmpl
var htmlTemplate string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1":             func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"addf":           func(a, b float64) float64 { return a + b },
	"subf":           func(a, b float64) float64 { return a - b },
	"mulf":           func(a, b float64) float64 { return a * b },
	"midf":           func(a, b float64) float64 { return (a + b) / 2 },
	"trunc":          truncLabel,
	"samplesPerCell": func() int { return SamplesPerCell },
}).Parse(htmlTemplate))

// HTML writes the Summary as one self-contained HTML page: inline CSS and
// SVG and a few lines of inline JavaScript, no external URL. It holds the
// figures (the radar of the tracks' overall metrics per method, accuracy
// against model size and against weight bits, speed against bits,
// knowledge against inference ability), each track's table, the overall
// metrics with a drill-down to the ratios behind each, and a drill-down
// per cell with its first SamplesPerCell per-sample records, read from the
// study folder s.Study.Folder (a missing or unreadable file is said so on
// the page, not an error). All text is escaped by html/template.
func HTML(w io.Writer, s *bench.Summary) error {
	return pageTemplate.Execute(w, buildPage(s))
}

// page is what html.tmpl renders.
type page struct {
	Title    string
	Study    []string
	Charts   []chartView
	Tracks   []trackView
	OMHead   []string
	OMRows   []omRow
	OMs      []omDetail
	Methods  [][2]string
	Cells    []*cellView
	Problems []problemView
}

// chartView is one figure: a radar or a scatter.
type chartView struct {
	Radar   *radar
	Scatter *scatter
}

type trackView struct {
	ID, Title, Definition, Source string
	Anchor                        string
	WithSource, WithEngine        bool
	Head                          []string
	Rows                          []rowView
	Footnotes                     []string
	OMs                           []omLink
}

type rowView struct {
	ID, Model, Method, Engine, Source string
	Values                            []valueView
}

type valueView struct {
	Text, Href, Mark, Flag string
}

type omLink struct {
	Name, Method, Text, Href string
}

type omRow struct {
	Label, Color string
	Cells        []omCell
}

type omCell struct {
	Text, Href string
	Flagged    int
}

type omDetail struct {
	ID, Title, Value, Method string
	Level                    float64
	Ratios                   []ratioView
	Flagged                  int
}

type ratioView struct {
	Group, Model, Column, Original, Compressed, R, Flag string
	OriginalHref, CompressedHref                        string
}

type cellView struct {
	ID, Key string
	Uses    []string
	Info    []string
	Error   string
	Samples sampleView
}

type problemView struct {
	Kind, Model, Method, Task, File, Detail, Href string
}

// buildPage lays out everything html.tmpl draws.
func buildPage(s *bench.Summary) *page {
	p := &page{Title: "LLMCBench study"}
	if s.Study.Folder != "" {
		p.Title += " — " + filepath.Base(s.Study.Folder)
	}
	p.Study = studyLines(s)
	keys := series(s)
	colors := map[seriesKey]string{}
	dashes := map[seriesKey]bool{}
	for i, k := range keys {
		colors[k], dashes[k] = color(i), dashed(i)
	}
	omAnchors := map[*bench.OMValue]string{}
	for ti := range s.Tracks {
		for oi := range s.Tracks[ti].OMs {
			omAnchors[&s.Tracks[ti].OMs[oi]] = omAnchor(s.Tracks[ti].ID, oi)
		}
	}
	cells := newCellSet(s.Study.Folder)
	nm := newNames(s)

	p.Charts = buildCharts(s, nm, keys, colors, dashes, omAnchors)

	for ti := range s.Tracks {
		p.Tracks = append(p.Tracks, buildTrack(&s.Tracks[ti], nm, omAnchors, cells))
	}

	ix := indexOMs(s)
	p.OMHead = omColumns(s)
	for _, k := range keys {
		row := omRow{Label: nm.series(k), Color: colors[k]}
		for _, n := range p.OMHead {
			om := ix[k][n]
			if om == nil {
				row.Cells = append(row.Cells, omCell{})
				continue
			}
			row.Cells = append(row.Cells, omCell{Text: formatCI(om.V, om.CI), Href: "#" + omAnchors[om], Flagged: om.Flagged})
		}
		p.OMRows = append(p.OMRows, row)
	}
	for ti := range s.Tracks {
		t := &s.Tracks[ti]
		for oi := range t.OMs {
			om := &t.OMs[oi]
			d := omDetail{ID: omAnchors[om], Title: fmt.Sprintf("%s of %s (Track %s)", omName(om), nm.series(seriesKey{om.Method, om.Setting, om.Source}), t.ID),
				Value: formatCI(om.V, om.CI), Method: om.Method, Level: om.Level, Flagged: om.Flagged}
			for _, r := range om.Ratios {
				rv := ratioView{Group: r.Group, Model: r.Model, Column: r.Column, Original: formatNum(r.Original),
					Compressed: formatNum(r.Compressed), R: formatNum(r.R), Flag: r.Flag}
				if r.OriginalCell != "" {
					rv.OriginalHref = "#" + cells.use(r.OriginalCell, fmt.Sprintf("Track %s %s: original of %s, %s", t.ID, om.Name, r.Model, r.Column))
				}
				if r.CompressedCell != "" {
					rv.CompressedHref = "#" + cells.use(r.CompressedCell, fmt.Sprintf("Track %s %s: %s, %s, %s", t.ID, om.Name, nm.method(om.Method, om.Setting, om.Source), r.Model, r.Column))
				}
				d.Ratios = append(d.Ratios, rv)
			}
			p.OMs = append(p.OMs, d)
		}
	}
	p.Methods = nm.specs(s)
	for _, pr := range s.Problems {
		pv := problemView{Kind: pr.Kind, Model: pr.Model, Method: nm.method(pr.Method, bench.SettingOf(pr.Method), bench.SourceGollm), Task: pr.Task, File: pr.File, Detail: pr.Detail}
		if pr.Key != "" && cells.has(pr.Key) {
			pv.Href = "#" + cellAnchor(pr.Key)
		}
		p.Problems = append(p.Problems, pv)
	}
	p.Cells = cells.load()
	return p
}

func buildTrack(t *bench.Track, nm names, omAnchors map[*bench.OMValue]string, cells *cellSet) trackView {
	tv := trackView{ID: t.ID, Title: t.Title, Definition: t.Definition, Source: t.Source, Anchor: "track-" + t.ID}
	for _, r := range t.Rows {
		tv.WithSource = tv.WithSource || !isGollm(r.Source)
		tv.WithEngine = tv.WithEngine || r.Engine != ""
	}
	scales := make([]scale, len(t.Columns))
	for i, c := range t.Columns {
		scales[i] = columnScale(c, t.Rows, i)
		tv.Head = append(tv.Head, columnHeader(c, scales[i]))
	}
	var fn footnotes
	for ri, r := range t.Rows {
		rv := rowView{ID: fmt.Sprintf("row-t%s-%d", t.ID, ri), Model: r.Model, Method: nm.method(r.Method, r.Setting, r.Source), Engine: r.Engine, Source: sourceName(r.Source)}
		for i, c := range t.Columns {
			v := bench.Value{Flag: "missing"}
			if i < len(r.Values) {
				v = r.Values[i]
			}
			vv := valueView{Flag: v.Flag}
			if v.Flag != "" {
				vv.Text, vv.Mark = "—", fn.mark(v.Flag)
			} else {
				vv.Text = scales[i].format(v)
			}
			if v.Cell != "" {
				vv.Href = "#" + cells.use(v.Cell, fmt.Sprintf("Track %s: %s, %s, %s", t.ID, r.Model, nm.method(r.Method, r.Setting, r.Source), c.Name))
			}
			rv.Values = append(rv.Values, vv)
		}
		tv.Rows = append(tv.Rows, rv)
	}
	for i, fl := range fn.flags {
		tv.Footnotes = append(tv.Footnotes, fmt.Sprintf("%s %s: %s.", flagMarks[min(i, len(flagMarks)-1)], fl, flagNote(fl)))
	}
	for oi := range t.OMs {
		om := &t.OMs[oi]
		tv.OMs = append(tv.OMs, omLink{Name: omName(om), Method: nm.series(seriesKey{om.Method, om.Setting, om.Source}), Text: formatCI(om.V, om.CI), Href: "#" + omAnchors[om]})
	}
	return tv
}

// seriesStyle gives a series key its colour and dash in every chart; dense
// rows are drawn black (gollm) or grey (published).
type seriesStyle struct {
	colors map[seriesKey]string
	dashes map[seriesKey]bool
}

func (st seriesStyle) of(k seriesKey) (string, bool) {
	if k.Method == bench.Dense {
		if isGollm(k.Source) {
			return "#222222", false
		}
		return "#888888", true
	}
	return st.colors[k], st.dashes[k]
}

func buildCharts(s *bench.Summary, nm names, keys []seriesKey, colors map[seriesKey]string, dashes map[seriesKey]bool, omAnchors map[*bench.OMValue]string) []chartView {
	style := seriesStyle{colors, dashes}
	ix := indexOMs(s)
	var out []chartView

	// The radar: six spokes (more if the study has more tracks).
	ids := []string{"1", "2", "3", "4", "5", "6"}
	byID := map[string]*bench.Track{}
	for i := range s.Tracks {
		t := &s.Tracks[i]
		byID[t.ID] = t
		if !slices.Contains(ids, t.ID) {
			ids = append(ids, t.ID)
		}
	}
	var labels, names []string
	var missing []bool
	for _, id := range ids {
		name := headlineOM[id]
		t := byID[id]
		if t != nil {
			name = trackHeadline(t)
		}
		om, engine, _ := strings.Cut(name, " ")
		labels = append(labels, "T"+id+" "+strings.TrimPrefix(om, "om_")+"\n"+engine)
		names = append(names, name)
		missing = append(missing, t == nil || len(t.OMs) == 0)
	}
	var in []radarInput
	var notes, single []string
	lackers := map[string][]string{}
	for _, k := range keys {
		ri := radarInput{Label: nm.series(k)}
		ri.Color, ri.Dashed = style.of(k)
		drawn := 0
		var lacking []string
		for i, n := range names {
			om := ix[k][n]
			if om == nil {
				ri.Values, ri.Titles, ri.Hrefs = append(ri.Values, math.NaN()), append(ri.Titles, ""), append(ri.Hrefs, "")
				if !missing[i] {
					lacking = append(lacking, strings.TrimSpace(strings.ReplaceAll(labels[i], "\n", " ")))
				}
				continue
			}
			drawn++
			ri.Values = append(ri.Values, om.V)
			ri.Titles = append(ri.Titles, fmt.Sprintf("%s %s: %s", nm.series(k), n, formatCI(om.V, om.CI)))
			ri.Hrefs = append(ri.Hrefs, "#"+omAnchors[om])
		}
		if drawn == 1 {
			single = append(single, nm.series(k))
		}
		if drawn > 1 {
			in = append(in, ri)
			if len(lacking) > 0 {
				l := strings.Join(lacking, ", ")
				if _, ok := lackers[l]; !ok {
					notes = append(notes, l)
				}
				lackers[l] = append(lackers[l], nm.series(k))
			}
		}
	}
	rd := layoutRadar("fig-radar", "Overall metrics per method (100 = the original model)", labels, missing, in)
	for _, l := range notes {
		rd.Notes = append(rd.Notes, fmt.Sprintf("No %s for %s: drawn at the centre.", l, strings.Join(lackers[l], ", ")))
	}
	if len(single) > 0 {
		rd.Notes = append(rd.Notes, fmt.Sprintf("Not drawn, an overall metric of one track only (see the OM table): %s.", strings.Join(single, ", ")))
	}
	out = append(out, chartView{Radar: &rd})

	// Knowledge against inference ability (Track 1's OM_ka and OM_ia).
	var ki []dataSeries
	for _, k := range keys {
		ka, ia := ix[k]["om_ka"], ix[k]["om_ia"]
		if ka == nil || ia == nil {
			continue
		}
		c, d := style.of(k)
		ki = append(ki, dataSeries{Label: nm.series(k), Color: c, Dashed: d, Points: []point{{X: ka.V, Y: ia.V,
			Title: fmt.Sprintf("%s: om_ka %s, om_ia %s", nm.series(k), formatCI(ka.V, ka.CI), formatCI(ia.V, ia.CI)), Href: "#" + omAnchors[ka]}}})
	}
	out = append(out, chartView{Scatter: ptr(layoutScatter("fig-ka-ia", "Knowledge against inference ability (Track 1)",
		"OM_ka (knowledge ability)", "OM_ia (inference ability)", false, false, ki,
		"no measurements: no method has both OM_ka and OM_ia (Track 1)"))})

	// Accuracy against model size and against weight bits (Track 1).
	params := map[string]int64{}
	for _, m := range s.Models {
		params[m.Name] = m.Params
	}
	accSize, accBits, unit, accNotes := accuracyPoints(byID["1"], nm, params, style)
	ylabel := "mean accuracy"
	if unit != "" {
		ylabel += " (" + unit + ")"
	}
	sz := layoutScatter("fig-acc-size", "Accuracy against model size (Track 1)", "parameters (log scale)", ylabel, true, false, accSize,
		"no measurements: Track 1 has no row with every accuracy measured and a known parameter count")
	sz.Notes = append([]string{"Mean over the Track 1 accuracy columns each row's source measures (perplexity left out)."}, accNotes...)
	out = append(out, chartView{Scatter: &sz})
	bt := layoutScatter("fig-acc-bits", "Accuracy against weight bits (Track 1)", "weight bits (pruned and dense models: 16)", ylabel, false, false, accBits,
		"no measurements: Track 1 has no row with every accuracy measured")
	bt.Notes = sz.Notes[:1]
	out = append(out, chartView{Scatter: &bt})

	// Speed against bits (Track 5).
	sp, spUnit := speedPoints(byID["5"], nm)
	spLabel := "speed, log scale"
	if spUnit != "" {
		spLabel += " (" + spUnit + ")"
	}
	out = append(out, chartView{Scatter: ptr(layoutScatter("fig-speed-bits", "Speed against weight bits (Track 5)", "weight bits (pruned and dense models: 16)", spLabel, false, true, sp,
		"no measurements: Track 5 has no speed rows in this study"))})
	return out
}

// truncLabel shortens a legend label to what fits beside a chart; the
// legend item's tooltip holds the whole label.
func truncLabel(s string) string {
	const n = 34
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func ptr[T any](v T) *T { return &v }

// accuracyPoints returns Track 1's mean accuracy per row against model
// size (per series, lines over models) and against weight bits, the unit
// of the accuracy columns, and notes on rows not placed.
func accuracyPoints(t *bench.Track, nm names, params map[string]int64, style seriesStyle) (size, bits []dataSeries, unit string, notes []string) {
	if t == nil {
		return nil, nil, "", nil
	}
	var acc []int
	for i, c := range t.Columns {
		if !c.LowerIsBetter {
			acc = append(acc, i)
			if unit == "" {
				unit = c.Unit
			}
		}
	}
	if len(acc) == 0 {
		return nil, nil, "", nil
	}
	type rowPoint struct {
		row   bench.Row
		mean  float64
		index int
	}
	bySeries := map[seriesKey][]rowPoint{}
	var order []seriesKey
	for ri, r := range t.Rows {
		// The mean is over the columns the row's source measures; a
		// failed, missing or invalid one keeps the row off the figure.
		var sum float64
		n := 0
		flagged := false
		for _, i := range acc {
			switch {
			case i >= len(r.Values):
				flagged = true
			case r.Values[i].Flag == bench.FlagNotMeasured:
			case r.Values[i].Flag != "":
				flagged = true
			default:
				sum += r.Values[i].V
				n++
			}
		}
		if flagged || n == 0 {
			notes = append(notes, fmt.Sprintf("%s %s not placed: not every accuracy was measured.", r.Model, nm.series(seriesKey{r.Method, r.Setting, r.Source})))
			continue
		}
		k := seriesKey{r.Method, r.Setting, r.Source}
		if _, ok := bySeries[k]; !ok {
			order = append(order, k)
		}
		bySeries[k] = append(bySeries[k], rowPoint{r, sum / float64(n), ri})
	}
	for _, k := range order {
		c, d := style.of(k)
		sz := dataSeries{Label: nm.series(k), Color: c, Dashed: d, Line: true}
		bt := dataSeries{Label: nm.series(k), Color: c, Dashed: d}
		pts := bySeries[k]
		slices.SortStableFunc(pts, func(a, b rowPoint) int { return cmpInt64(params[a.row.Model], params[b.row.Model]) })
		for _, rp := range pts {
			title := fmt.Sprintf("%s, %s: mean accuracy %s", rp.row.Model, nm.series(k), formatNum(rp.mean))
			href := fmt.Sprintf("#row-t%s-%d", t.ID, rp.index)
			bt.Points = append(bt.Points, point{X: weightBits(k.Method, k.Setting), Y: rp.mean, Title: title, Href: href})
			if p := params[rp.row.Model]; p > 0 {
				sz.Points = append(sz.Points, point{X: float64(p), Y: rp.mean, Title: title, Href: href})
			} else {
				notes = append(notes, fmt.Sprintf("%s not placed by size: parameter count unknown.", rp.row.Model))
			}
		}
		size, bits = append(size, sz), append(bits, bt)
	}
	slices.Sort(notes)
	return size, bits, unit, slices.Compact(notes)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// speedPoints returns Track 5's measurements against weight bits, one
// series per column and engine, and the columns' unit.
func speedPoints(t *bench.Track, nm names) ([]dataSeries, string) {
	if t == nil {
		return nil, ""
	}
	var engines []string
	for _, r := range t.Rows {
		if !slices.Contains(engines, r.Engine) {
			engines = append(engines, r.Engine)
		}
	}
	var out []dataSeries
	unit := ""
	for i, c := range t.Columns {
		if unit == "" {
			unit = c.Unit
		}
		for ei, eng := range engines {
			n := i*len(engines) + ei
			ds := dataSeries{Label: strings.TrimSpace(strings.TrimSuffix(c.Name, "_tokens_per_second") + " " + eng), Color: color(n), Dashed: dashed(n)}
			for ri, r := range t.Rows {
				if r.Engine != eng || i >= len(r.Values) || r.Values[i].Flag != "" || r.Values[i].V <= 0 {
					continue
				}
				ds.Points = append(ds.Points, point{X: weightBits(r.Method, r.Setting), Y: r.Values[i].V,
					Title: fmt.Sprintf("%s, %s: %s %s %s", r.Model, nm.series(seriesKey{r.Method, r.Setting, r.Source}), c.Name, formatNum(r.Values[i].V), c.Unit),
					Href:  fmt.Sprintf("#row-t%s-%d", t.ID, ri)})
			}
			out = append(out, ds)
		}
	}
	return out, unit
}
