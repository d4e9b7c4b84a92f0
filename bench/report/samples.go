package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/bench"
)

// cellSet collects the cells a page links to, in order of first use, and
// loads their drill-downs from the study folder.
type cellSet struct {
	folder string
	order  []string
	views  map[string]*cellView
}

func newCellSet(folder string) *cellSet {
	return &cellSet{folder: folder, views: map[string]*cellView{}}
}

// cellAnchor is the HTML id of a cell's drill-down.
func cellAnchor(key string) string { return "cell-" + key }

// use records that the page shows a number from cell key (what is
// described) and returns the cell's anchor.
func (cs *cellSet) use(key, what string) string {
	v, ok := cs.views[key]
	if !ok {
		v = &cellView{ID: cellAnchor(key), Key: key}
		cs.views[key] = v
		cs.order = append(cs.order, key)
	}
	if !slices.Contains(v.Uses, what) {
		v.Uses = append(v.Uses, what)
	}
	return v.ID
}

func (cs *cellSet) has(key string) bool { return cs.views[key] != nil }

// load reads each used cell's results file and first SamplesPerCell
// samples; what cannot be read is said in the view.
func (cs *cellSet) load() []*cellView {
	out := make([]*cellView, 0, len(cs.order))
	for _, k := range cs.order {
		v := cs.views[k]
		cs.fill(v)
		out = append(out, v)
	}
	return out
}

// validKey reports whether key can name a file: cell keys are hex digests.
func validKey(key string) bool {
	if key == "" || len(key) > 128 {
		return false
	}
	for _, c := range key {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (cs *cellSet) fill(v *cellView) {
	if cs.folder == "" {
		v.Samples.Note = "no study folder in the summary: the cell's file was not read"
		return
	}
	if !validKey(v.Key) {
		v.Samples.Note = "the key is not a cell key: no file read"
		return
	}
	rel := filepath.Join(bench.CellsDir, v.Key+".json")
	c, p := bench.ReadCell(cs.folder, v.Key)
	if p != nil {
		v.Samples.Note = fmt.Sprintf("%s could not be read: %s", rel, p.Detail)
		return
	}
	v.Info = append(v.Info, "file "+rel, "kind "+c.Kind, "model "+c.Model, "method "+c.Method)
	if c.Task != "" {
		v.Info = append(v.Info, "task "+c.Task)
	}
	if c.Engine != "" {
		v.Info = append(v.Info, "engine "+c.Engine)
	}
	v.Info = append(v.Info, "status "+c.Status)
	if c.Seconds > 0 {
		v.Info = append(v.Info, fmt.Sprintf("%.1f s", c.Seconds))
	}
	if c.Gollm != "" {
		v.Info = append(v.Info, "gollm "+c.Gollm)
	}
	if len(c.Metrics) > 0 {
		var m []string
		for _, n := range slices.Sorted(maps.Keys(c.Metrics)) {
			m = append(m, n+" "+formatNum(c.Metrics[n]))
		}
		v.Info = append(v.Info, "metrics: "+strings.Join(m, ", "))
	}
	v.Error = c.Error
	if c.Samples == "" {
		v.Samples.Note = "no per-sample records were logged for this cell"
		return
	}
	if !filepath.IsLocal(c.Samples) {
		v.Samples.Note = fmt.Sprintf("samples path %q is outside the study folder: not read", c.Samples)
		return
	}
	v.Samples = readSamples(filepath.Join(cs.folder, c.Samples), c.Samples, SamplesPerCell)
}

// sampleView is the first records of a cell's samples file.
type sampleView struct {
	File    string
	Total   int
	Metrics []string
	Rows    []sampleRow
	Note    string
}

type sampleRow struct {
	Doc, Group, Target, Pred, Prompt string
	Correct                          bool
	Metrics                          []string
	Choices                          []string
}

// maxSampleLine bounds one line of a samples file.
const maxSampleLine = 16 << 20

// readSamples reads the first n records of a samples file (JSON lines of
// bench.Sample) and counts the others.
func readSamples(path, rel string, n int) sampleView {
	sv := sampleView{File: rel}
	f, err := os.Open(path)
	if err != nil {
		sv.Note = fmt.Sprintf("%s could not be read: %v", rel, errors.Unwrap(err))
		return sv
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxSampleLine)
	var samples []bench.Sample
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		sv.Total++
		if len(samples) >= n {
			continue
		}
		var s bench.Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			sv.Note = fmt.Sprintf("%s line %d is not a sample record: %v", rel, line, err)
			return sv
		}
		samples = append(samples, s)
	}
	if err := sc.Err(); err != nil {
		sv.Note = fmt.Sprintf("%s: %v", rel, err)
		return sv
	}
	seen := map[string]bool{}
	for _, s := range samples {
		for m := range s.Metrics {
			if !seen[m] {
				seen[m] = true
				sv.Metrics = append(sv.Metrics, m)
			}
		}
	}
	slices.Sort(sv.Metrics)
	for _, s := range samples {
		r := sampleRow{Doc: strconv.Itoa(s.Doc), Group: s.Group, Prompt: s.Prompt}
		for _, m := range sv.Metrics {
			if v, ok := s.Metrics[m]; ok {
				r.Metrics = append(r.Metrics, formatNum(v))
			} else {
				r.Metrics = append(r.Metrics, "")
			}
		}
		if len(s.Choices) > 0 {
			r.Target, r.Pred = choice(s.Choices, s.Target), choice(s.Choices, s.Pred)
			r.Correct = s.Target == s.Pred
			for i, c := range s.Choices {
				ll := ""
				if i < len(s.LogLik) {
					ll = " (" + formatNum(s.LogLik[i]) + ")"
				}
				r.Choices = append(r.Choices, c+ll)
			}
		} else if s.Tokens > 0 {
			r.Target = fmt.Sprintf("NLL %s over %s tokens", formatNum(s.NLL), formatNum(s.Tokens))
		}
		sv.Rows = append(sv.Rows, r)
	}
	if sv.Total == 0 {
		sv.Note = rel + " holds no records"
	}
	return sv
}

// choice names choice i of a sample ("2: Paris").
func choice(choices []string, i int) string {
	if i < 0 || i >= len(choices) {
		return strconv.Itoa(i)
	}
	return strconv.Itoa(i) + ": " + choices[i]
}
