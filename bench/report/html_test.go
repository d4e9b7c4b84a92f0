package report

import (
	"bytes"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/bench"
)

func renderHTML(t *testing.T, s *bench.Summary) (string, *node) {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.String(), parseHTML(t, b.String())
}

// fixtureMarks is what each chart of the fixture must draw.
var fixtureMarks = map[string]int{
	// Six gollm methods on six tracks (the published method has Track 1
	// only: not drawn).
	"fig-radar": 6 * 6,
	// Every method with OM_ka and OM_ia: six of gollm's, one published.
	"fig-ka-ia": 7,
	// 3 models × 7 methods less the row with a failed cell, and two
	// published rows.
	"fig-acc-size": 3*7 - 1 + 2,
	"fig-acc-bits": 3*7 - 1 + 2,
	// Track 5: 3 models × 7 methods × 2 columns.
	"fig-speed-bits": 3 * 7 * 2,
}

// checkCharts checks that each chart draws the marks it should and
// announces them in data-marks (which the page's script checks again).
func checkCharts(t *testing.T, root *node, want map[string]int) {
	t.Helper()
	got := charts(root)
	if len(got) != len(want) {
		t.Errorf("%d charts, want %d", len(got), len(want))
	}
	for id, n := range want {
		svg := got[id]
		if svg == nil {
			t.Errorf("chart %s missing", id)
			continue
		}
		marks := len(svg.all(byClass("mark")))
		if marks != n || svg.Attr["data-marks"] != strconv.Itoa(n) {
			t.Errorf("chart %s: %d marks (data-marks %s), want %d", id, marks, svg.Attr["data-marks"], n)
		}
		empty := len(svg.all(byClass("empty"))) > 0
		if empty != (n == 0) {
			t.Errorf("chart %s: empty text shown %v with %d marks", id, empty, n)
		}
		if n > 0 && len(svg.all(byClass("legend-item"))) == 0 {
			t.Errorf("chart %s has no legend", id)
		}
	}
}

func TestHTMLFixture(t *testing.T) {
	s := fixture(t)
	page, root := renderHTML(t, s)
	if !strings.Contains(page, HTMLMarker) {
		t.Errorf("the page lacks its generator marker %s", HTMLMarker)
	}
	checkCharts(t, root, fixtureMarks)
	radar := charts(root)["fig-radar"]
	if n := len(radar.all(byClass("series"))); n != 6 {
		t.Errorf("radar: %d polygons, want one per gollm method (6)", n)
	}
	if !strings.Contains(root.text(), "Not drawn, an overall metric of one track only (see the OM table): wanda 50% [published-example].") {
		t.Error("the radar does not say the published method with one track is left out")
	}
	var axes []string
	for _, a := range radar.all(byClass("axis-label")) {
		axes = append(axes, a.text())
	}
	if strings.Join(axes, ",") != "T1 perf,T2 gen,T3 train,T4 inf,T5 hardgollm-cpu,T6 trust" {
		t.Errorf("radar axes %q, want the six tracks' headline OMs", axes)
	}
	// Every chart has axis or spoke labels and a title.
	for id, svg := range charts(root) {
		if len(svg.all(byClass("title"))) != 1 {
			t.Errorf("chart %s: no title", id)
		}
		if id != "fig-radar" && len(svg.all(byClass("label"))) < 2 {
			t.Errorf("chart %s: no axis labels", id)
		}
	}

	ids := map[string]*node{}
	for _, n := range root.all(func(x *node) bool { return x.Attr["id"] != "" }) {
		if ids[n.Attr["id"]] != nil {
			t.Errorf("id %q used twice", n.Attr["id"])
		}
		ids[n.Attr["id"]] = n
	}
	// Self-contained: every link is to an anchor of the page, and it exists.
	for _, a := range root.all(func(x *node) bool { return x.Attr["href"] != "" || x.Attr["src"] != "" }) {
		href := a.Attr["href"]
		if !strings.HasPrefix(href, "#") || ids[href[1:]] == nil {
			t.Errorf("<%s href=%q src=%q>: not a link to an anchor of the page", a.Name, href, a.Attr["src"])
		}
	}
	for _, n := range root.all(func(*node) bool { return true }) {
		for k, v := range n.Attr {
			if strings.Contains(v, "://") {
				t.Errorf("<%s %s=%q>: an external URL", n.Name, k, v)
			}
		}
	}
	// Each OM of the table opens its ratios, one table row per ratio.
	nOM := 0
	for _, tr := range s.Tracks {
		for i, om := range tr.OMs {
			nOM++
			d := ids[omAnchor(tr.ID, i)]
			if d == nil || d.Name != "details" {
				t.Errorf("OM %s %s: no drill-down", om.Name, om.Method)
				continue
			}
			if rows := d.all(byName("tr")); len(rows) != 1+len(om.Ratios) {
				t.Errorf("OM %s %s: %d ratio rows, want %d", om.Name, om.Method, len(rows)-1, len(om.Ratios))
			}
		}
	}
	omLinks := 0
	for _, a := range root.all(byName("a")) {
		if strings.HasPrefix(a.Attr["href"], "#om-") {
			omLinks++
		}
	}
	// Each OM is linked from the OM table, its track and the radar or the
	// scatter (not all).
	if omLinks < 2*nOM {
		t.Errorf("%d links to OM drill-downs for %d OMs", omLinks, nOM)
	}
	// An accuracy links to its cell, which shows its first samples.
	v := s.Tracks[0].Rows[0].Values[0]
	cell := ids[cellAnchor(v.Cell)]
	if cell == nil {
		t.Fatal("the first accuracy's cell has no drill-down")
	}
	tables := cell.all(byName("table"))
	if len(tables) != 1 || len(tables[0].all(byName("tr"))) != 1+SamplesPerCell {
		t.Errorf("the first accuracy's drill-down: want a table of %d samples", SamplesPerCell)
	}
	if !strings.Contains(cell.text(), "10 of 15 records") {
		t.Errorf("the drill-down does not say how many samples it shows: %q", cell.text())
	}
	// The failed cell shows its error.
	for _, p := range s.Problems {
		c := ids[cellAnchor(p.Key)]
		if c == nil || !strings.Contains(c.text(), "out of memory") {
			t.Errorf("failed cell %s: its drill-down does not show the error", p.Key)
		}
	}
	// Samples' prompts hold a <script>; only the page's own script runs.
	if n := len(root.all(byName("script"))); n != 1 {
		t.Errorf("%d script elements, want the page's one", n)
	}
}

func TestHTMLEscapes(t *testing.T) {
	s := fixture(t)
	evil := `<script>alert("x")</script>`
	for ti := range s.Tracks {
		for ri := range s.Tracks[ti].Rows {
			if s.Tracks[ti].Rows[ri].Model == "tiny-llama" {
				s.Tracks[ti].Rows[ri].Model = evil
			}
		}
		s.Tracks[ti].Title += ` <img src=x onerror=alert(1)>`
	}
	s.Models[0].Name = evil
	page, root := renderHTML(t, s)
	if n := len(root.all(byName("script"))); n != 1 {
		t.Errorf("%d script elements, want the page's one", n)
	}
	if n := len(root.all(byName("img"))); n != 0 {
		t.Errorf("%d img elements from a track title", n)
	}
	if !strings.Contains(root.text(), evil) {
		t.Error("the model's name is not shown as text")
	}
	if strings.Contains(page, "onerror=alert") && !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("a track title's markup reached the page")
	}
}

func TestHTMLMissingData(t *testing.T) {
	s := fixture(t)
	// Drop Track 5 and give Track 2 no OMs: both spokes say no data, the
	// speed chart says no measurements.
	var kept []bench.Track
	for _, tr := range s.Tracks {
		switch tr.ID {
		case "5":
			continue
		case "2":
			tr.OMs = nil
		}
		kept = append(kept, tr)
	}
	s.Tracks = kept
	_, root := renderHTML(t, s)
	want := map[string]int{}
	for k, v := range fixtureMarks {
		want[k] = v
	}
	want["fig-radar"] = 6 * 4
	want["fig-speed-bits"] = 0
	checkCharts(t, root, want)
	var missing []string
	for _, a := range charts(root)["fig-radar"].all(byClass("missing")) {
		if a.Name == "text" {
			missing = append(missing, a.text())
		}
	}
	if strings.Join(missing, ",") != "T2 gen(no data),T5 hard(no data)" {
		t.Errorf("radar's missing spokes %q, want T2 and T5", missing)
	}
	if !strings.Contains(charts(root)["fig-speed-bits"].text(), "no measurements") {
		t.Error("the empty speed chart does not say no measurements")
	}

	// A summary with nothing: every chart says so, the page still renders.
	_, root = renderHTML(t, &bench.Summary{})
	checkCharts(t, root, map[string]int{"fig-radar": 0, "fig-ka-ia": 0, "fig-acc-size": 0, "fig-acc-bits": 0, "fig-speed-bits": 0})
}

func TestHTMLUnreadableSamples(t *testing.T) {
	s := fixture(t)
	// A cell key that is not hex, and a study folder without the cell.
	s.Tracks[0].Rows[0].Values[0].Cell = "../../etc/passwd"
	s.Tracks[0].Rows[0].Values[1].Cell = strings.Repeat("ab", 32)
	_, root := renderHTML(t, s)
	for key, want := range map[string]string{
		"../../etc/passwd":       "not a cell key",
		strings.Repeat("ab", 32): "could not be read",
	} {
		var found *node
		for _, d := range root.all(byName("details")) {
			if d.Attr["id"] == cellAnchor(key) {
				found = d
			}
		}
		if found == nil || !strings.Contains(found.text(), want) {
			t.Errorf("cell %q: its drill-down does not say %q", key, want)
		}
	}
}

// accuracyPoints averages the accuracy columns a row's source measures
// and leaves off the figures a row with a failed or missing accuracy.
func TestAccuracyPoints(t *testing.T) {
	tr := &bench.Track{ID: "1", Columns: []bench.Column{
		{Name: "mmlu", Unit: "%"}, {Name: "piqa", Unit: "%"}, {Name: "wikitext2", LowerIsBetter: true},
	}, Rows: []bench.Row{
		{Model: "a", Method: bench.Dense, Values: []bench.Value{{V: 40}, {V: 60}, {V: 9}}},
		{Model: "a", Method: "rtn:bits=4", Values: []bench.Value{{V: 30}, {Flag: bench.FlagNotMeasured}, {V: 12}}},
		{Model: "a", Method: "gptq:bits=4", Values: []bench.Value{{V: 30}, {Flag: bench.FlagFailed}, {V: 12}}},
		{Model: "a", Method: "wanda", Setting: "50%", Source: "p.csv", Values: []bench.Value{{Flag: bench.FlagNotMeasured}, {Flag: bench.FlagNotMeasured}, {V: 12}}},
	}}
	size, bits, unit, notes := accuracyPoints(tr, names{}, map[string]int64{"a": 1000}, seriesStyle{})
	got := map[string][2]float64{}
	for i, s := range bits {
		for _, p := range s.Points {
			got[s.Label] = [2]float64{p.X, p.Y}
		}
		if len(size[i].Points) != len(s.Points) {
			t.Errorf("%s: %d points by size, %d by bits", s.Label, len(size[i].Points), len(s.Points))
		}
	}
	want := map[string][2]float64{"dense": {16, 50}, "rtn bits=4": {4, 30}}
	if !reflect.DeepEqual(got, want) || unit != "%" {
		t.Errorf("points %v (unit %q), want %v", got, unit, want)
	}
	if len(notes) != 2 || !strings.Contains(strings.Join(notes, " "), "a gptq bits=4 not placed") {
		t.Errorf("notes %q: want the failed row and the row without accuracies", notes)
	}
}

// TestRadarClipsHugeOMs: an OM far above the others is drawn on the rim,
// so the other polygons keep their size, and a note says so.
func TestRadarClipsHugeOMs(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name      string
		values    []float64
		wantNote  bool
		wantOuter float64 // the scale's top
	}{
		{"within scale", []float64{90, 120, 250, nan}, false, 300},
		{"one huge", []float64{90, 120, 3000, nan}, true, radarMax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []radarInput{{Label: "m", Color: "#000", Values: tc.values,
				Titles: make([]string, len(tc.values)), Hrefs: make([]string, len(tc.values))}}
			r := layoutRadar("r", "t", []string{"a", "b", "c", "d"}, make([]bool, 4), in)
			noted := false
			for _, n := range r.Notes {
				noted = noted || strings.Contains(n, "on the rim")
			}
			if noted != tc.wantNote {
				t.Errorf("notes %q: want a rim note %v", r.Notes, tc.wantNote)
			}
			for _, m := range r.Series[0].Marks {
				if d := math.Hypot(m.X-r.CX, m.Y-r.CY); d > r.R+0.1 {
					t.Errorf("mark at distance %.1f outside the radius %.1f", d, r.R)
				}
			}
			// The first value keeps its share of the scale: 90 of the top.
			m := r.Series[0].Marks[0]
			if d, want := math.Hypot(m.X-r.CX, m.Y-r.CY), r.R*90/tc.wantOuter; math.Abs(d-want) > 0.2 {
				t.Errorf("first mark at %.1f from the centre, want %.1f", d, want)
			}
		})
	}
}
