// Package report renders a bench.Summary — an LLMCBench study arranged by
// track — for people: Markdown tables (Markdown), one self-contained HTML
// page with SVG figures and drill-downs (HTML), or the Summary itself as
// JSON (JSON). It computes nothing the Summary does not hold; every number
// it prints comes from the Summary, and in HTML links back to the cells and
// per-sample records it came from.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/bench"
)

// JSON writes the Summary as indented JSON, as-is.
func JSON(w io.Writer, s *bench.Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Flag kinds of a Value or RatioInput, and what a reader is told about each.
// docs/BENCH.md ("Rules gollm chose") says how each counts.
var flagNotes = map[string]string{
	bench.FlagFailed:      "the cell ran and failed (see Problems); counted as ratio 0 in the overall metrics",
	bench.FlagMissing:     "no usable results file for this cell (see Problems); counted as ratio 0 in the overall metrics",
	bench.FlagNotMeasured: "this source does not report the column; left out of the overall metrics that need it",
	bench.FlagInvalid:     "the numbers cannot be compared (a lower-is-better measurement of 0); counted as ratio 0",
	"unsupported":         "the method does not support this model or task; counted as ratio 0 in the overall metrics",
}

// flagNote returns what a flag means, for footnotes.
func flagNote(flag string) string {
	if n, ok := flagNotes[flag]; ok {
		return n
	}
	return "not a measurement"
}

// headlineOM is the overall metric each track contributes to the radar
// chart (the seed's figure plots one per track).
var headlineOM = map[string]string{
	"1": "om_perf", "2": "om_gen", "3": "om_train", "4": "om_inf", "5": "om_hard", "6": "om_trust",
}

// trackHeadline returns the OM column (omName) track t contributes to the
// radar: the seed's headline OM (on the first engine, for Track 5), or
// else its last OM (a track's combined metric comes after its parts), or
// the headline's name for a track without OMs.
func trackHeadline(t *bench.Track) string {
	name := headlineOM[t.ID]
	for _, om := range t.OMs {
		if om.Name == name {
			return omName(&om)
		}
	}
	if len(t.OMs) > 0 {
		return omName(&t.OMs[len(t.OMs)-1])
	}
	return name
}

// omName is an OM's column in the OM table: its name, with its engine for
// a Track 5 OM ("om_hard gollm-cpu").
func omName(om *bench.OMValue) string {
	if om.Engine != "" {
		return om.Name + " " + om.Engine
	}
	return om.Name
}

// seriesKey identifies one method line of a study: a method spec (or a
// published method name) with its setting, from one source. Charts give
// each its colour; the OM table gives each its row.
type seriesKey struct{ Method, Setting, Source string }

// series lists the compressed-method series of s in report order: gollm's
// methods in s.Methods order, then the others as they first appear in the
// tracks' OMs and rows. Dense is left out (it is the reference).
func series(s *bench.Summary) []seriesKey {
	var out []seriesKey
	seen := map[seriesKey]bool{}
	add := func(k seriesKey) {
		if k.Method == bench.Dense || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, k)
	}
	// Walk OMs first (they carry the settings), then rows.
	for _, t := range s.Tracks {
		for _, om := range t.OMs {
			add(seriesKey{om.Method, om.Setting, om.Source})
		}
	}
	for _, t := range s.Tracks {
		for _, r := range t.Rows {
			add(seriesKey{r.Method, r.Setting, r.Source})
		}
	}
	// Order: gollm's in s.Methods order, then the rest in first-seen order.
	rank := map[string]int{}
	for i, m := range s.Methods {
		rank[m] = i
	}
	gollm := func(k seriesKey) (int, bool) {
		i, ok := rank[k.Method]
		return i, ok && isGollm(k.Source)
	}
	sorted := make([]seriesKey, 0, len(out))
	for i := range s.Methods {
		for _, k := range out {
			if r, ok := gollm(k); ok && r == i {
				sorted = append(sorted, k)
			}
		}
	}
	for _, k := range out {
		if _, ok := gollm(k); !ok {
			sorted = append(sorted, k)
		}
	}
	return sorted
}

// isGollm reports whether a Source names gollm's own measurements.
func isGollm(source string) bool { return source == "" || source == "gollm" }

// headlineKeys are the spec parameters a short label keeps.
var headlineKeys = []string{"bits", "abits", "group", "sparsity", "pattern"}

// shortMethod returns a readable label for a method spec and setting:
// "gptq w4a16", or for a canonical spec without a setting its name and
// headline parameters ("gptq bits=4 group=128"). Dense stays "dense".
func shortMethod(method, setting string) string {
	name, params, _ := strings.Cut(method, ":")
	if setting != "" {
		return name + " " + setting
	}
	if params == "" {
		return name
	}
	var keep []string
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(kv, "=")
		for _, h := range headlineKeys {
			if k == h && v != "none" && v != "auto" && !(k == "abits" && v == "16") {
				keep = append(keep, k+"="+v)
			}
		}
	}
	if len(keep) == 0 {
		return name
	}
	return name + " " + strings.Join(keep, " ")
}

// names labels a summary's methods: each (method, setting, source) by
// its short method (shortMethod), unique within its source — methods that
// would share a label ("rtn w4a16" for two group sizes) get " #1", " #2"
// in report order, and the Methods table gives each label's full spec.
type names map[seriesKey]string

func newNames(s *bench.Summary) names {
	var keys []seriesKey
	seen := map[seriesKey]bool{}
	add := func(k seriesKey) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, k := range series(s) {
		add(k)
	}
	for _, t := range s.Tracks {
		for _, r := range t.Rows {
			add(seriesKey{r.Method, r.Setting, r.Source})
		}
	}
	type group struct{ base, source string }
	members := map[group][]seriesKey{}
	for _, k := range keys {
		g := group{shortMethod(k.Method, k.Setting), sourceName(k.Source)}
		members[g] = append(members[g], k)
	}
	n := names{}
	for g, ks := range members {
		for i, k := range ks {
			n[k] = g.base
			if len(ks) > 1 {
				n[k] = fmt.Sprintf("%s #%d", g.base, i+1)
			}
		}
	}
	return n
}

// method returns the label of a method of a table row (without its
// source, which the table shows).
func (n names) method(method, setting, source string) string {
	if l, ok := n[seriesKey{method, setting, source}]; ok {
		return l
	}
	if l, ok := n[seriesKey{method, setting, sourceName(source)}]; ok {
		return l
	}
	return shortMethod(method, setting)
}

// series returns a series' label: its method's label, and its source when
// that is not gollm.
func (n names) series(k seriesKey) string {
	l := n.method(k.Method, k.Setting, k.Source)
	if !isGollm(k.Source) {
		l += " [" + strings.TrimSuffix(k.Source, ".csv") + "]"
	}
	return l
}

// specs lists the gollm methods whose label is not their spec, with the
// spec: the Methods table.
func (n names) specs(s *bench.Summary) [][2]string {
	var out [][2]string
	for _, k := range series(s) {
		if l := n.series(k); isGollm(k.Source) && l != k.Method {
			out = append(out, [2]string{l, k.Method})
		}
	}
	return out
}

// weightBits returns the weight bit width a method stores: the spec's bits
// parameter, else a "wN…"/"intN" setting, else 16 (dense models and pruning
// methods keep 16-bit weights).
func weightBits(method, setting string) float64 {
	_, params, _ := strings.Cut(method, ":")
	for _, kv := range strings.Split(params, ",") {
		if k, v, _ := strings.Cut(kv, "="); k == "bits" {
			if b, err := strconv.Atoi(v); err == nil && b > 0 {
				return float64(b)
			}
		}
	}
	s := strings.ToLower(setting)
	for _, prefix := range []string{"w", "int"} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if b, err := strconv.Atoi(rest[:n]); err == nil && b > 0 {
				return float64(b)
			}
		}
	}
	return 16
}

// decimals is the number of decimals that shows v with four significant
// digits (none at 1000 and above, at most six).
func decimals(v float64) int {
	a := math.Abs(v)
	if a == 0 || math.IsNaN(a) || math.IsInf(a, 0) {
		return 2
	}
	d := 3 - int(math.Floor(math.Log10(a)))
	return max(0, min(d, 6))
}

// formatNum formats v with four significant digits.
func formatNum(v float64) string {
	return strconv.FormatFloat(v, 'f', decimals(v), 64)
}

// formatCI formats a value with its confidence interval: "46.31 ±2.10"
// when the interval is symmetric at the printed precision, "5.473 [5.201,
// 5.799]" otherwise, and the bare value without an interval.
func formatCI(v float64, ci *[2]float64) string {
	d := decimals(v)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', d, 64) }
	if ci == nil {
		return f(v)
	}
	lo, hi := v-ci[0], ci[1]-v
	if f(lo) == f(hi) {
		return f(v) + " ±" + f(hi)
	}
	return f(v) + " [" + f(ci[0]) + ", " + f(ci[1]) + "]"
}

// scale is how a column's values are printed: divided by Div, with Unit
// (chosen when the column's largest value reaches From, or Div).
type scale struct {
	Div  float64
	Unit string
	From float64
}

// columnScale picks the printed unit of a column by its largest value:
// bytes become KiB, MiB or GiB (the seed's "G" is GiB, docs/BENCH.md),
// MACs G- or T-MACs; other units are kept.
func columnScale(c bench.Column, rows []bench.Row, col int) scale {
	var steps []scale
	switch c.Unit {
	case "bytes", "B":
		steps = []scale{{1 << 30, "GiB", 0}, {1 << 20, "MiB", 0}, {1 << 10, "KiB", 0}}
	case "MACs":
		// The seed prints T-MACs (0.23 T for LLaMA-2-7B at int8).
		steps = []scale{{1e12, "T-MACs", 1e11}, {1e9, "G-MACs", 0}, {1e6, "M-MACs", 0}}
	default:
		return scale{1, c.Unit, 0}
	}
	var m float64
	for _, r := range rows {
		if col < len(r.Values) && r.Values[col].Flag == "" {
			m = max(m, math.Abs(r.Values[col].V))
		}
	}
	for _, st := range steps {
		if m >= st.Div || st.From > 0 && m >= st.From {
			return st
		}
	}
	return scale{1, c.Unit, 0}
}

// format prints a Value in a scale.
func (sc scale) format(v bench.Value) string {
	if v.CI == nil {
		return formatCI(v.V/sc.Div, nil)
	}
	return formatCI(v.V/sc.Div, &[2]float64{v.CI[0] / sc.Div, v.CI[1] / sc.Div})
}

// columnHeader is a column's header: its name, metric and unit.
func columnHeader(c bench.Column, sc scale) string {
	h := c.Name
	if c.Metric != "" && !strings.Contains(c.Name, c.Metric) && !strings.Contains(c.Metric, " ") {
		h += " " + c.Metric
	}
	if sc.Unit != "" {
		h += " (" + sc.Unit + ")"
	}
	if c.LowerIsBetter {
		h += " ↓"
	}
	if c.Convention != "" {
		h += " [" + c.Convention + "]"
	}
	return h
}

// omColumns lists the OM names of a summary in track order.
func omColumns(s *bench.Summary) []string {
	var names []string
	seen := map[string]bool{}
	for _, t := range s.Tracks {
		for _, om := range t.OMs {
			if n := omName(&om); !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}

// omIndex finds OMs by series and name.
type omIndex map[seriesKey]map[string]*bench.OMValue

func indexOMs(s *bench.Summary) omIndex {
	ix := omIndex{}
	for ti := range s.Tracks {
		for oi := range s.Tracks[ti].OMs {
			om := &s.Tracks[ti].OMs[oi]
			k := seriesKey{om.Method, om.Setting, om.Source}
			if ix[k] == nil {
				ix[k] = map[string]*bench.OMValue{}
			}
			ix[k][omName(om)] = om
		}
	}
	return ix
}

// omAnchor is the HTML id of an OM's drill-down.
func omAnchor(trackID string, i int) string { return fmt.Sprintf("om-t%s-%d", trackID, i) }

// ciLevel returns the coverage of the OMs' confidence intervals (the first
// one given), or 0 when no OM has an interval.
func ciLevel(s *bench.Summary) float64 {
	for _, t := range s.Tracks {
		for _, om := range t.OMs {
			if om.CI != nil && om.Level > 0 {
				return om.Level
			}
		}
	}
	return 0
}

// studyLines describes the study: folder, gollm version, machine, start,
// the cells read by status, the published CSVs.
func studyLines(s *bench.Summary) []string {
	st := s.Study
	var out []string
	if st.Folder != "" {
		out = append(out, "Study folder: "+st.Folder)
	}
	if st.Gollm != "" {
		out = append(out, "gollm "+st.Gollm)
	}
	if m := st.Machine; m.CPU != "" {
		out = append(out, fmt.Sprintf("Machine: %s, %d cores, %d threads, %s, %s/%s", m.CPU, m.Cores, m.Threads, m.Device, m.OS, m.Arch))
	}
	if !st.Created.IsZero() {
		out = append(out, "Started "+st.Created.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if len(st.Cells) > 0 {
		out = append(out, "Cells read: "+joinCounts(st.Cells))
	}
	if len(st.Published) > 0 {
		out = append(out, "Published numbers beside ours: "+strings.Join(st.Published, ", "))
	}
	return out
}

// joinCounts writes counts sorted by key: "1 failed,
// 350 ok".
func joinCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprint(m[k])+" "+k)
	}
	return strings.Join(parts, ", ")
}
