package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// FlagNotMeasured marks a value in a column its source does not report at
// all (a published table without gollm's conventions): not a measurement,
// and not counted in any OM.
const FlagNotMeasured = "not_measured"

// build turns the cells and published rows into the Summary's tracks.
func (l *loader) build() {
	if len(l.cells) > 0 {
		l.sources = append([]string{SourceGollm}, l.sources...)
	}
	l.missing = map[string]bool{}
	for _, c := range l.cells {
		l.addCell(c)
	}
	for i := range tracks {
		l.sum.Tracks = append(l.sum.Tracks, l.track(&tracks[i]))
	}
	l.listModels()
}

// addCell files a cell's numbers under the columns they feed.
func (l *loader) addCell(c *Cell) {
	base := entry{source: SourceGollm, model: c.Model, method: c.Method, setting: SettingOf(c.Method), engine: c.Engine, cell: c.Key}
	if c.Status == StatusFailed {
		base.flag = FlagFailed
	}
	switch c.Kind {
	case KindEval:
		var samples []Sample
		read := false
		for i := range tracks {
			tr := &tracks[i]
			if tr.kind != KindEval {
				continue
			}
			for _, col := range tr.cols {
				if !l.feeds(col, c) {
					continue
				}
				e := base
				e.col = col.Name
				if e.flag == "" {
					if !read {
						samples, read = l.readSamples(c), true
					}
					l.evalValue(c, col, samples, &e)
				}
				l.add(tr.id, &e)
			}
		}
	case KindCompress:
		mem := c.Metrics["peak_device_bytes"]
		if mem <= 0 {
			mem = c.Metrics["peak_rss_bytes"]
		}
		l.addMeasure(c, base, "3", colCompressSeconds, c.Metrics["compress_seconds"])
		l.addMeasure(c, base, "3", colCompressMemory, mem)
	case KindFootprint:
		mem := c.Metrics["eval_peak_device_bytes"]
		if mem <= 0 {
			mem = c.Metrics["eval_peak_rss_bytes"]
		}
		l.addMeasure(c, base, "4", colEvalMemory, mem)
		l.addMeasure(c, base, "4", colSizeGollm, c.Metrics["checkpoint_bytes"])
		fp, err := parseFootprint(c)
		if err != nil && c.Status == StatusOK {
			l.sum.Problems = append(l.sum.Problems, Problem{File: filepath.Join(CellsDir, c.Key+".json"), Key: c.Key, Kind: ProblemCorrupt, Model: c.Model, Method: c.Method,
				Detail: "footprint result: " + err.Error()})
			base.flag = FlagMissing
		}
		var size, macs, gmacs float64
		if err == nil {
			size, macs, gmacs = fp.seedSize(), fp.macs(seedConv), fp.macs(gollmConv)
		}
		l.addMeasure(c, base, "4", colSizeSeed, size)
		l.addMeasure(c, base, "4", colMACsSeed, macs)
		l.addMeasure(c, base, "4", colMACsGollm, gmacs)
	case KindSpeed:
		l.addMeasure(c, base, "5", colPrefill, c.Metrics[colPrefill])
		l.addMeasure(c, base, "5", colDecode, c.Metrics[colDecode])
	}
}

// feeds reports whether an eval cell feeds a column: its task is one the
// column reads and no cell of a preferred task exists for the same model
// and method.
func (l *loader) feeds(col colSpec, c *Cell) bool {
	rank := col.taskRank(c.Task)
	if rank < 0 {
		return false
	}
	for _, o := range l.cells {
		if o.Kind == KindEval && o.Model == c.Model && o.Method == c.Method {
			if r := col.taskRank(o.Task); r >= 0 && r < rank {
				return false
			}
		}
	}
	return true
}

// addMeasure files one measurement of a cell; a finished cell without it
// is flagged missing.
func (l *loader) addMeasure(c *Cell, base entry, track, col string, v float64) {
	e := base
	e.col = col
	if e.flag == "" {
		if v > 0 && !math.IsInf(v, 0) {
			e.v = v
		} else {
			e.flag = FlagMissing
			l.sum.Problems = append(l.sum.Problems, Problem{File: filepath.Join(CellsDir, c.Key+".json"), Key: c.Key, Kind: ProblemMissing, Model: c.Model, Method: c.Method, Task: col,
				Detail: fmt.Sprintf("cell has no %s", col)})
		}
	}
	l.add(track, &e)
}

// evalValue sets an eval entry's value from the cell's metric and its
// bootstrap replicates from the cell's samples.
func (l *loader) evalValue(c *Cell, col colSpec, samples []Sample, e *entry) {
	metric := ""
	for _, m := range col.metrics {
		if _, ok := c.Metrics[m]; ok {
			metric = m
			break
		}
	}
	if metric == "" {
		e.flag = FlagMissing
		l.sum.Problems = append(l.sum.Problems, Problem{File: filepath.Join(CellsDir, c.Key+".json"), Key: c.Key, Kind: ProblemMissing, Model: c.Model, Method: c.Method, Task: c.Task,
			Detail: fmt.Sprintf("cell has none of the metrics %s", strings.Join(col.metrics, ", "))})
		return
	}
	e.v = c.Metrics[metric] * col.scale
	if len(samples) == 0 {
		return
	}
	pair := c.Model + "\x00" + c.Task
	if col.LowerIsBetter {
		nll, tok := make([]float64, len(samples)), make([]float64, len(samples))
		for i, s := range samples {
			if s.Tokens <= 0 {
				return
			}
			nll[i], tok[i] = s.NLL, s.Tokens
		}
		e.reps = perplexityReplicates(pair, nll, tok)
		return
	}
	vals := make([]float64, len(samples))
	for i, s := range samples {
		v, ok := s.Metrics[metric]
		if !ok {
			return
		}
		vals[i] = v
	}
	e.reps = meanReplicates(pair, vals, col.scale)
}

// methodKey identifies a row's method: spec (or published method name),
// setting and engine.
type methodKey struct{ method, setting, engine string }

// table is one source's numbers of one track, indexed.
type table struct {
	src     string
	models  []string
	methods []methodKey // compressed methods
	dense   []methodKey // one per engine
	cols    map[string]bool
	comp    map[string]*entry // model|method|setting|engine|col
	orig    map[string]*entry // model|engine|col (dense)
}

func compKey(model string, mk methodKey, col string) string {
	return strings.Join([]string{model, mk.method, mk.setting, mk.engine, col}, "\x00")
}

func origKey(model, engine, col string) string {
	return strings.Join([]string{model, engine, col}, "\x00")
}

// tableOf indexes a source's entries of a track.
func (l *loader) tableOf(tr *trackSpec, src string) *table {
	t := &table{src: src, cols: map[string]bool{}, comp: map[string]*entry{}, orig: map[string]*entry{}}
	engines := []string{}
	for _, e := range l.entries[tr.id] {
		if e.source != src {
			continue
		}
		if !slices.Contains(t.models, e.model) {
			t.models = append(t.models, e.model)
		}
		if !slices.Contains(engines, e.engine) {
			engines = append(engines, e.engine)
		}
		t.cols[e.col] = true
		mk := methodKey{e.method, e.setting, e.engine}
		if e.method == Dense {
			if !slices.ContainsFunc(t.dense, func(d methodKey) bool { return d.engine == e.engine }) {
				t.dense = append(t.dense, mk)
			}
			if _, dup := t.orig[origKey(e.model, e.engine, e.col)]; dup {
				l.duplicate(tr, e)
			} else {
				t.orig[origKey(e.model, e.engine, e.col)] = e
			}
			continue
		}
		if !slices.Contains(t.methods, mk) {
			t.methods = append(t.methods, mk)
		}
		if _, dup := t.comp[compKey(e.model, mk, e.col)]; dup {
			l.duplicate(tr, e)
		} else {
			t.comp[compKey(e.model, mk, e.col)] = e
		}
	}
	if src == SourceGollm && len(t.models) > 0 {
		// The study's grid: every method the study compressed or
		// evaluated is expected in every track it has cells for.
		sort.Strings(t.models)
		for _, c := range l.cells {
			if c.Method == Dense {
				continue
			}
			for _, eng := range engines {
				mk := methodKey{c.Method, SettingOf(c.Method), eng}
				if !slices.Contains(t.methods, mk) {
					t.methods = append(t.methods, mk)
				}
			}
		}
		sort.Slice(t.methods, func(i, j int) bool {
			a, b := t.methods[i], t.methods[j]
			if a.engine != b.engine {
				return a.engine < b.engine
			}
			return a.method < b.method
		})
	}
	return t
}

// duplicate reports a published row that repeats an earlier one (the
// first is used).
func (l *loader) duplicate(tr *trackSpec, e *entry) {
	l.sum.Problems = append(l.sum.Problems, Problem{File: filepath.Join(PublishedDir, e.source), Kind: ProblemForeign, Model: e.model, Method: e.method, Task: e.col,
		Detail: fmt.Sprintf("line %d repeats track %s %s × %s %s %s (the first row is used)", e.line, tr.id, e.model, e.method, e.setting, e.col)})
}

// track arranges one track: its rows and OMs for every source.
func (l *loader) track(tr *trackSpec) Track {
	out := Track{ID: tr.id, Title: tr.title, Definition: tr.definition, Source: tr.source, Rows: []Row{}, OMs: []OMValue{}}
	for _, c := range tr.cols {
		out.Columns = append(out.Columns, c.Column)
	}
	for _, src := range l.sources {
		t := l.tableOf(tr, src)
		if len(t.models) == 0 {
			continue
		}
		for _, m := range t.models {
			for _, mk := range t.dense {
				out.Rows = append(out.Rows, l.row(tr, t, m, mk, true))
			}
			for _, mk := range t.methods {
				out.Rows = append(out.Rows, l.row(tr, t, m, mk, false))
			}
		}
		for _, mk := range t.methods {
			out.OMs = append(out.OMs, l.oms(tr, t, mk)...)
		}
	}
	return out
}

// row is one model × method line of a track table.
func (l *loader) row(tr *trackSpec, t *table, model string, mk methodKey, dense bool) Row {
	r := Row{Model: model, Method: mk.method, Setting: mk.setting, Engine: mk.engine, Source: t.src}
	for _, c := range tr.cols {
		var e *entry
		if dense {
			e = t.orig[origKey(model, mk.engine, c.Name)]
		} else {
			e = t.comp[compKey(model, mk, c.Name)]
		}
		switch {
		case !t.cols[c.Name]:
			r.Values = append(r.Values, Value{Flag: FlagNotMeasured})
		case e == nil:
			r.Values = append(r.Values, Value{Flag: FlagMissing})
		default:
			r.Values = append(r.Values, Value{V: e.v, CI: percentileCI(e.reps), Cell: e.cell, Flag: e.flag})
		}
	}
	return r
}

// ratio is one ratio of an OM with its bootstrap replicates.
type ratio struct {
	in   RatioInput
	reps []float64
}

// oms computes a method's overall metrics in one track and source.
func (l *loader) oms(tr *trackSpec, t *table, mk methodKey) []OMValue {
	var out []OMValue
	reps := map[string][]float64{}
	for _, om := range tr.oms {
		var groups [][]ratio
		for _, g := range om.groups {
			var rs []ratio
			for _, model := range t.models {
				for _, c := range tr.cols {
					if c.inGroup(g) && t.cols[c.Name] {
						rs = append(rs, l.ratioOf(tr, t, model, mk, c, g))
					}
				}
			}
			if len(rs) == 0 {
				groups = nil
				break
			}
			groups = append(groups, rs)
		}
		if groups == nil {
			continue
		}
		v, r := omOf(om.name, mk, t.src, groups)
		out = append(out, v)
		reps[om.name] = r
	}
	if cb := tr.combine; cb != nil {
		var parts []OMValue
		for _, name := range cb.of {
			if i := slices.IndexFunc(out, func(o OMValue) bool { return o.Name == name }); i >= 0 {
				parts = append(parts, out[i])
			}
		}
		if len(parts) == len(cb.of) {
			out = append(out, combineOf(cb.name, parts, reps))
		}
	}
	return out
}

// ratioOf compares a method's value with the original's for one model
// and column: the dense model's, or in Track 3 the largest among the
// methods. A failed or missing number on either side gives ratio 0,
// flagged.
func (l *loader) ratioOf(tr *trackSpec, t *table, model string, mk methodKey, c colSpec, group string) ratio {
	comp := t.comp[compKey(model, mk, c.Name)]
	var orig *entry
	if tr.id == maxRefTrack {
		for _, other := range t.methods {
			e := t.comp[compKey(model, other, c.Name)]
			if e != nil && e.flag == "" && (orig == nil || e.v > orig.v) {
				orig = e
			}
		}
	} else {
		orig = t.orig[origKey(model, mk.engine, c.Name)]
	}
	in := RatioInput{Group: group, Model: model, Column: c.Name}
	if orig != nil {
		in.Original, in.OriginalCell = orig.v, orig.cell
	}
	if comp != nil {
		in.Compressed, in.CompressedCell = comp.v, comp.cell
	}
	switch {
	case comp == nil:
		in.Flag = FlagMissing
		l.missingProblem(t.src, model, mk.method, c.Name)
	case comp.flag != "":
		in.Flag = comp.flag
	case orig == nil:
		in.Flag = FlagMissing
		if tr.id != maxRefTrack {
			l.missingProblem(t.src, model, Dense, c.Name)
		}
	case orig.flag != "":
		in.Flag = orig.flag
	}
	if in.Flag != "" {
		return ratio{in: in}
	}
	r, ok := ratioValue(orig.v, comp.v, c.LowerIsBetter)
	if !ok {
		in.Flag = FlagInvalid
		return ratio{in: in}
	}
	in.R = r
	out := ratio{in: in}
	if orig.reps != nil || comp.reps != nil {
		out.reps = make([]float64, BootstrapResamples)
		for b := range out.reps {
			o, cv := orig.v, comp.v
			if orig.reps != nil {
				o = orig.reps[b]
			}
			if comp.reps != nil {
				cv = comp.reps[b]
			}
			out.reps[b], _ = ratioValue(o, cv, c.LowerIsBetter)
		}
	}
	return out
}

// ratioValue is Ratio, with an accuracy of 0 giving ratio 0 (a real
// measurement, not an error).
func ratioValue(orig, comp float64, lower bool) (float64, bool) {
	if !lower && comp == 0 && orig > 0 {
		return 0, true
	}
	r, err := Ratio(orig, comp, lower)
	return r, err == nil
}

// missingProblem records, once, that a track needed a number no cell or
// row provides.
func (l *loader) missingProblem(src, model, method, col string) {
	k := strings.Join([]string{src, model, method, col}, "\x00")
	if l.missing[k] {
		return
	}
	l.missing[k] = true
	p := Problem{Kind: ProblemMissing, Model: model, Method: method, Task: col, Detail: fmt.Sprintf("no %s number for %s × %s", col, model, method)}
	if src != SourceGollm {
		p.File = filepath.Join(PublishedDir, src)
	}
	l.sum.Problems = append(l.sum.Problems, p)
}

// omOf computes one OM from its grouped ratios, with its bootstrap
// replicates when any ratio has them.
func omOf(name string, mk methodKey, src string, groups [][]ratio) (OMValue, []float64) {
	v := OMValue{Name: name, Method: mk.method, Setting: mk.setting, Engine: mk.engine, Source: src, Ratios: []RatioInput{}}
	vals := make([][]float64, len(groups))
	withReps := false
	for i, g := range groups {
		for _, r := range g {
			vals[i] = append(vals[i], r.in.R)
			v.Ratios = append(v.Ratios, r.in)
			if r.in.Flag != "" {
				v.Flagged++
			}
			withReps = withReps || r.reps != nil
		}
	}
	// Ratios are ≥ 0 and finite and no group is empty: OM cannot fail.
	v.V, _ = OM(vals...)
	if !withReps {
		return v, nil
	}
	reps := make([]float64, BootstrapResamples)
	for b := range reps {
		for i, g := range groups {
			for j, r := range g {
				if r.reps != nil {
					vals[i][j] = r.reps[b]
				}
			}
		}
		om, err := OM(vals...)
		if err != nil {
			om = math.NaN()
		}
		reps[b] = om
	}
	v.CI, v.Level = percentileCI(reps), BootstrapLevel
	return v, reps
}

// combineOf is an OM that is the quadratic mean of others (OM_perf).
func combineOf(name string, parts []OMValue, reps map[string][]float64) OMValue {
	v := OMValue{Name: name, Method: parts[0].Method, Setting: parts[0].Setting, Engine: parts[0].Engine, Source: parts[0].Source, Ratios: []RatioInput{}}
	vals := make([]float64, len(parts))
	withReps := false
	for i, p := range parts {
		vals[i] = p.V
		v.Ratios = append(v.Ratios, p.Ratios...)
		v.Flagged += p.Flagged
		withReps = withReps || reps[p.Name] != nil
	}
	v.V, _ = Combine(vals...)
	if withReps {
		cr := make([]float64, BootstrapResamples)
		for b := range cr {
			for i, p := range parts {
				if r := reps[p.Name]; r != nil {
					vals[i] = r[b]
				} else {
					vals[i] = p.V
				}
			}
			c, err := Combine(vals...)
			if err != nil {
				c = math.NaN()
			}
			cr[b] = c
		}
		v.CI, v.Level = percentileCI(cr), BootstrapLevel
	}
	return v
}

// listModels fills the Summary's model and method lists.
func (l *loader) listModels() {
	seen := map[string]int{}
	methods := []string{Dense}
	for _, c := range l.cells {
		i, ok := seen[c.Model]
		if !ok {
			i = len(l.sum.Models)
			seen[c.Model] = i
			l.sum.Models = append(l.sum.Models, ModelInfo{Name: c.Model, Source: SourceGollm})
		}
		m := &l.sum.Models[i]
		if m.Family == "" {
			m.Family = c.Family
		}
		if c.Params > m.Params {
			m.Params = c.Params
		}
		if !slices.Contains(methods, c.Method) {
			methods = append(methods, c.Method)
		}
	}
	sort.Slice(l.sum.Models, func(i, j int) bool { return l.sum.Models[i].Name < l.sum.Models[j].Name })
	slices.Sort(methods[1:])
	for _, tr := range tracks {
		for _, e := range l.entries[tr.id] {
			if e.source == SourceGollm {
				continue
			}
			if _, ok := seen["\x00"+e.source+"\x00"+e.model]; !ok {
				seen["\x00"+e.source+"\x00"+e.model] = 0
				l.sum.Models = append(l.sum.Models, ModelInfo{Name: e.model, Source: e.source})
			}
			if !slices.Contains(methods, e.method) {
				methods = append(methods, e.method)
			}
		}
	}
	l.sum.Methods = methods
}

// SettingOf returns a method spec's setting as the seed labels it: "2:4",
// "50%", "w4a16", "w8a8", or "" for the dense model and specs it does not
// recognise. Specs are canonical (compress.Spec.String): method:key=value,…
func SettingOf(spec string) string {
	if spec == Dense {
		return ""
	}
	p := specParams(spec)
	if pat := p["pattern"]; pat != "" && pat != "none" {
		return pat
	}
	for _, k := range []string{"sparsity", "layer_ratio"} {
		var f float64
		if _, err := fmt.Sscanf(p[k], "%g", &f); err == nil && f > 0 {
			if k == "layer_ratio" {
				// LLM-Pruner by per-layer ratio: not the seed's overall
				// parameter share, so labelled as what it is.
				return fmt.Sprintf("layers %g%%", 100*f)
			}
			return fmt.Sprintf("%g%%", 100*f)
		}
	}
	if b := p["bits"]; b != "" {
		a := p["abits"]
		if a == "" || a == "0" {
			a = "16"
		}
		if strings.HasPrefix(spec, "smoothquant") {
			a = b
		}
		return "w" + b + "a" + a
	}
	return ""
}

// specParams splits a canonical spec's key=value parameters.
func specParams(spec string) map[string]string {
	p := map[string]string{}
	_, rest, _ := strings.Cut(spec, ":")
	for _, kv := range strings.Split(rest, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			p[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return p
}

// footprint is a footprint cell's Result: the model's config.json, the
// canonical spec and the checkpoint's files.
type footprint struct {
	Config json.RawMessage  `json:"config"`
	Spec   string           `json:"spec"`
	Files  map[string]int64 `json:"files"`
	cfg    ModelConfig
	params int64
}

// parseFootprint reads a footprint cell's Result.
func parseFootprint(c *Cell) (*footprint, error) {
	var fp footprint
	if len(c.Result) == 0 {
		return nil, fmt.Errorf("no result")
	}
	if err := json.Unmarshal(c.Result, &fp); err != nil {
		return nil, err
	}
	cfg, err := ParseModelConfig(fp.Config)
	if err != nil {
		return nil, err
	}
	fp.cfg = cfg
	if fp.Spec == "" {
		fp.Spec = c.Method
	}
	fp.params = int64(c.Metrics["params"])
	if fp.params <= 0 {
		fp.params = c.Params
	}
	fp.cfg.Params = fp.params
	return &fp, nil
}

func (fp *footprint) seedSize() float64 { return SeedSize(fp.cfg, fp.Spec) }

func (fp *footprint) macs(conv string) float64 {
	if conv == gollmConv {
		return GollmMACs(fp.cfg, fp.Spec, seedTokens)
	}
	return MACs(fp.cfg, fp.Spec, seedTokens)
}
