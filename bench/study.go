package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/badinput"
)

// Study folder layout (docs/BENCH.md): study.json, cells/<key>.json,
// samples/<key>.jsonl, checkpoints/<key>/, published/*.csv, report/.
const (
	StudyFileName  = "study.json"
	CellsDir       = "cells"
	SamplesDir     = "samples"
	CheckpointsDir = "checkpoints"
	PublishedDir   = "published"
	// PlanFileName lists every cell the study's last run planned
	// (StudyPlan), so that a partly finished study can say what is
	// missing.
	PlanFileName = "plan.json"
	// SourceGollm is the Source of rows measured by gollm.
	SourceGollm = "gollm"
)

// Problem kinds.
const (
	ProblemFailed  = "failed"
	ProblemMissing = "missing"
	ProblemCorrupt = "corrupt"
	ProblemForeign = "foreign"
	// ProblemPending is a unit (model × method) of the study's plan some
	// of whose cells have not been computed yet.
	ProblemPending = "pending"
)

// StudyPlan is plan.json: the cells a study's run planned, each with its
// unit (model × method, the work of one Slurm array task).
type StudyPlan struct {
	Gollm string        `json:"gollm_version"`
	Cells []PlannedCell `json:"cells"`
}

// PlannedCell is one planned cell of StudyPlan.
type PlannedCell struct {
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	Unit   string `json:"unit"`
	Model  string `json:"model"`
	Method string `json:"method"`
	Task   string `json:"task,omitempty"`
	Engine string `json:"engine,omitempty"`
}

// Value flags: why a table value is not a measurement.
const (
	FlagFailed  = "failed"
	FlagMissing = "missing"
	// FlagInvalid marks a ratio whose numbers cannot be compared (a
	// lower-is-better measurement of zero).
	FlagInvalid = "invalid"
)

// studyHeader is what LoadStudy reads of study.json; the rest (the
// resolved configuration) is the runner's.
type studyHeader struct {
	Gollm   string    `json:"gollm_version"`
	Machine Machine   `json:"machine"`
	Created time.Time `json:"created"`
}

// LoadStudy reads a study folder — study.json, every cells/*.json, the
// samples files they name and every published/*.csv — and arranges it by
// track (Summary). Results files that cannot be read, have another schema
// or a key that does not match their name are Problems, never values;
// failed and missing cells count as ratio 0 in the OMs and are flagged
// (docs/BENCH.md). A folder that is missing or is not a study, and a
// malformed published-numbers CSV, are bad input. Cost: one read of every
// file plus BootstrapResamples passes over each task's samples.
func LoadStudy(dir string) (*Summary, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, badinput.Missing(fmt.Errorf("study folder %s: %w", dir, err))
	}
	if !st.IsDir() {
		return nil, badinput.Errorf("study folder %s: not a folder", dir)
	}
	hb, err := os.ReadFile(filepath.Join(dir, StudyFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, badinput.Errorf("study folder %s: not a study (no %s)", dir, StudyFileName)
	}
	if err != nil {
		return nil, fmt.Errorf("study folder %s: %w", dir, err)
	}
	var head studyHeader
	if err := json.Unmarshal(hb, &head); err != nil {
		return nil, badinput.Errorf("%s: not a study file: %v", filepath.Join(dir, StudyFileName), err)
	}
	l := &loader{dir: dir, sum: &Summary{Study: StudyInfo{Folder: dir, Gollm: head.Gollm, Machine: head.Machine, Created: head.Created, Cells: map[string]int{}}}}
	if err := l.readCells(); err != nil {
		return nil, err
	}
	if err := l.readPlan(); err != nil {
		return nil, err
	}
	if err := l.readPublished(); err != nil {
		return nil, err
	}
	l.build()
	return l.sum, nil
}

// loader gathers a study's numbers before they are arranged by track.
type loader struct {
	dir   string
	sum   *Summary
	cells []*Cell
	// entries holds every number by track.
	entries map[string][]*entry
	// sources lists the rows' sources in report order (gollm first).
	sources []string
	// missing de-duplicates missing-cell problems.
	missing map[string]bool
}

// entry is one number of a track table before arrangement: from a cell or
// a published row.
type entry struct {
	source, model, method, setting, engine string
	col                                    string
	v                                      float64
	cell                                   string
	flag                                   string
	// line is a published row's line in its CSV.
	line int
	// reps are the value's bootstrap replicates (nil without samples).
	reps []float64
}

// readPlan reads plan.json, when there is one, and reports each unit
// with planned cells that have no results file as a pending Problem
// (counted under Study.Cells["pending"]): a partly finished study says
// what is missing. A plan.json that cannot be read is a corrupt Problem.
func (l *loader) readPlan() error {
	b, err := os.ReadFile(filepath.Join(l.dir, PlanFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("study %s: %w", l.dir, err)
	}
	var plan StudyPlan
	if err := json.Unmarshal(b, &plan); err != nil {
		l.sum.Problems = append(l.sum.Problems, Problem{File: PlanFileName, Kind: ProblemCorrupt, Detail: err.Error()})
		return nil
	}
	type unit struct {
		model, method string
		total         int
		pending       []string
	}
	var order []string
	units := map[string]*unit{}
	for _, c := range plan.Cells {
		u := units[c.Unit]
		if u == nil {
			u = &unit{model: c.Model, method: c.Method}
			units[c.Unit] = u
			order = append(order, c.Unit)
		}
		u.total++
		if _, err := os.Stat(filepath.Join(l.dir, CellsDir, c.Key+".json")); err == nil {
			continue
		}
		what := c.Kind
		if c.Task != "" {
			what = c.Task
		} else if c.Engine != "" {
			what += " " + c.Engine
		}
		u.pending = append(u.pending, what)
		l.sum.Study.Cells[ProblemPending]++
	}
	for _, id := range order {
		u := units[id]
		if len(u.pending) == 0 {
			continue
		}
		l.sum.Problems = append(l.sum.Problems, Problem{File: PlanFileName, Kind: ProblemPending, Model: u.model, Method: u.method,
			Detail: fmt.Sprintf("%d of %d cells not computed yet (%s); gollm bench --status shows the study, gollm bench finishes it", len(u.pending), u.total, strings.Join(u.pending, ", "))})
	}
	return nil
}

// readCells reads every cells/*.json, reporting unusable files as
// Problems, and keeps one cell per measurement.
func (l *loader) readCells() error {
	cdir := filepath.Join(l.dir, CellsDir)
	des, err := os.ReadDir(cdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("study %s: %w", l.dir, err)
	}
	best := map[string]*Cell{}
	var order []string
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		rel := filepath.Join(CellsDir, name)
		c, prob := readCell(filepath.Join(l.dir, rel), strings.TrimSuffix(name, ".json"))
		if prob != nil {
			prob.File = rel
			l.sum.Problems = append(l.sum.Problems, *prob)
			l.sum.Study.Cells[prob.Kind]++
			continue
		}
		l.sum.Study.Cells[c.Status]++
		id := strings.Join([]string{c.Kind, c.Model, c.Method, c.Task, c.Engine}, "\x00")
		if old, ok := best[id]; !ok {
			order = append(order, id)
			best[id] = c
		} else if better(c, old) {
			best[id] = c
		}
	}
	for _, id := range order {
		c := best[id]
		l.cells = append(l.cells, c)
		if c.Status == StatusFailed {
			l.sum.Problems = append(l.sum.Problems, Problem{File: filepath.Join(CellsDir, c.Key+".json"), Key: c.Key, Kind: ProblemFailed, Model: c.Model, Method: c.Method, Task: c.Task, Detail: c.Error})
		}
	}
	return nil
}

// better reports whether cell a should be used rather than b for the same
// measurement: a finished cell over a failed one, then the newer.
func better(a, b *Cell) bool {
	if (a.Status == StatusOK) != (b.Status == StatusOK) {
		return a.Status == StatusOK
	}
	return a.Started.After(b.Started)
}

// ReadCell reads the results file of cell key in the study folder dir, as
// LoadStudy does; a file that cannot be used is returned as a Problem.
func ReadCell(dir, key string) (*Cell, *Problem) {
	return readCell(filepath.Join(dir, CellsDir, key+".json"), key)
}

// readCell reads one results file; a file that cannot be used is returned
// as a Problem (corrupt: unreadable or not JSON; foreign: another schema,
// a key that is not its name, an unknown kind or status).
func readCell(path, stem string) (*Cell, *Problem) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Problem{Key: stem, Kind: ProblemCorrupt, Detail: err.Error()}
	}
	var c Cell
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, &Problem{Key: stem, Kind: ProblemCorrupt, Detail: "not a results cell: " + err.Error()}
	}
	foreign := func(format string, args ...any) (*Cell, *Problem) {
		return nil, &Problem{Key: stem, Kind: ProblemForeign, Model: c.Model, Method: c.Method, Task: c.Task, Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Schema != CellSchema:
		return foreign("schema %d: want %d", c.Schema, CellSchema)
	case c.Key != stem:
		return foreign("key %q does not match the file name", c.Key)
	case c.Kind != KindCompress && c.Kind != KindEval && c.Kind != KindFootprint && c.Kind != KindSpeed:
		return foreign("unknown kind %q", c.Kind)
	case c.Status != StatusOK && c.Status != StatusFailed:
		return foreign("unknown status %q", c.Status)
	case c.Model == "" || c.Method == "":
		return foreign("no model or method")
	}
	return &c, nil
}

// readPublished reads every published/*.csv; a malformed file is bad input.
func (l *loader) readPublished() error {
	paths, err := filepath.Glob(filepath.Join(l.dir, PublishedDir, "*.csv"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rows, err := ReadPublishedFile(p)
		if err != nil {
			return err
		}
		name := filepath.Base(p)
		l.sum.Study.Published = append(l.sum.Study.Published, name)
		l.addPublished(name, rows)
	}
	return nil
}

// addPublished files a published CSV's rows under their tracks' columns.
func (l *loader) addPublished(name string, rows []PublishedRow) {
	l.addSource(name)
	for _, r := range rows {
		tr := trackByID(r.Track)
		c, f := tr.pubColumn(r)
		if c == nil {
			l.sum.Problems = append(l.sum.Problems, Problem{File: filepath.Join(PublishedDir, name), Kind: ProblemForeign, Model: r.Model, Method: r.Method, Task: r.Task,
				Detail: fmt.Sprintf("line %d: track %s has no column for task %q metric %q", r.Line, r.Track, r.Task, r.Metric)})
			continue
		}
		l.add(tr.id, &entry{source: name, model: r.Model, method: r.Method, setting: r.Setting, col: c.Name, v: r.Value * f, line: r.Line})
	}
}

// pubColumn finds the column a published row feeds and the factor to its
// unit.
func (t *trackSpec) pubColumn(r PublishedRow) (*colSpec, float64) {
	for i := range t.cols {
		c := &t.cols[i]
		f, ok := c.pub[r.Metric]
		if ok && (r.Task == c.Name || r.Task == "") {
			return c, f
		}
	}
	return nil, 0
}

func trackByID(id string) *trackSpec {
	for i := range tracks {
		if tracks[i].id == id {
			return &tracks[i]
		}
	}
	return nil
}

func (l *loader) addSource(s string) {
	if !slices.Contains(l.sources, s) {
		l.sources = append(l.sources, s)
	}
}

func (l *loader) add(track string, e *entry) {
	if l.entries == nil {
		l.entries = map[string][]*entry{}
	}
	l.entries[track] = append(l.entries[track], e)
}

// readSamples reads a cell's per-sample records; a file that cannot be
// read is a Problem and the cell gets no confidence interval.
func (l *loader) readSamples(c *Cell) []Sample {
	if c.Samples == "" {
		return nil
	}
	if !filepath.IsLocal(c.Samples) {
		l.sum.Problems = append(l.sum.Problems, Problem{File: filepath.Join(CellsDir, c.Key+".json"), Key: c.Key, Kind: ProblemForeign, Model: c.Model, Method: c.Method, Task: c.Task,
			Detail: fmt.Sprintf("samples path %q is not inside the study folder", c.Samples)})
		return nil
	}
	f, err := os.Open(filepath.Join(l.dir, c.Samples))
	if err != nil {
		l.sum.Problems = append(l.sum.Problems, Problem{File: c.Samples, Key: c.Key, Kind: ProblemCorrupt, Model: c.Model, Method: c.Method, Task: c.Task, Detail: err.Error()})
		return nil
	}
	defer f.Close()
	var out []Sample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var s Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			l.sum.Problems = append(l.sum.Problems, Problem{File: c.Samples, Key: c.Key, Kind: ProblemCorrupt, Model: c.Model, Method: c.Method, Task: c.Task, Detail: fmt.Sprintf("line %d: %v", line, err)})
			return nil
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		l.sum.Problems = append(l.sum.Problems, Problem{File: c.Samples, Key: c.Key, Kind: ProblemCorrupt, Model: c.Model, Method: c.Method, Task: c.Task, Detail: err.Error()})
		return nil
	}
	return out
}
