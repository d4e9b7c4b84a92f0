package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/bench"
)

// mdTables splits a Markdown document into its tables by the heading
// before each: heading → rows (cells split on unescaped pipes).
func mdTables(doc string) map[string][][]string {
	out := map[string][][]string{}
	heading := ""
	for _, line := range strings.Split(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			heading = h
			continue
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |")
		inner = strings.ReplaceAll(inner, `\|`, "\x00")
		var cells []string
		for _, c := range strings.Split(inner, " | ") {
			cells = append(cells, strings.ReplaceAll(c, "\x00", "|"))
		}
		out[heading] = append(out[heading], cells)
	}
	return out
}

func TestMarkdownFixture(t *testing.T) {
	s := fixture(t)
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	if !strings.HasPrefix(doc, MarkdownMarker+"\n") {
		t.Errorf("the report does not start with %q", MarkdownMarker)
	}
	tables := mdTables(doc)
	for _, tr := range s.Tracks {
		heading := "Track " + tr.ID + ": " + tr.Title
		rows := tables[heading]
		// Header, separator, one line per row.
		if len(rows) != 2+len(tr.Rows) {
			t.Errorf("%s: %d table lines, want %d", heading, len(rows), 2+len(tr.Rows))
			continue
		}
		want := 2 + len(tr.Columns)
		if tr.ID == "1" || tr.ID == "5" {
			want++ // the Source column (Track 1 has published rows), the Engine column
		}
		for i, r := range rows {
			if len(r) != want {
				t.Errorf("%s line %d: %d cells, want %d: %q", heading, i, len(r), want, r)
			}
		}
	}
	// The failed cell is a dash with a footnote, and listed as a problem.
	t1 := tables["Track 1: Compression performance"]
	var failedRow []string
	for _, r := range t1 {
		if r[0] == failedCell[0] && r[1] == "rtn w3a16" {
			failedRow = r
		}
	}
	if failedRow == nil || failedRow[3+3] != "—¹" { // Model, Method, Source, mmlu, arc_c, arc_e, hellaswag
		t.Errorf("failed hellaswag cell: row %q, want —¹ in the hellaswag column", failedRow)
	}
	if !strings.Contains(doc, "¹ failed: the cell ran and failed") {
		t.Error("no footnote for the failed cell")
	}
	probs := tables["Problems"]
	if len(probs) != 3 || probs[2][0] != "failed" || probs[2][3] != "hellaswag" {
		t.Errorf("problems table %q, want the one failed hellaswag cell", probs)
	}
	// The OM table: one row per compressed method (six of gollm's and the
	// published one), one column per OM name.
	oms := tables["Overall metrics"]
	wantHead := []string{"Method", "om_ka", "om_ia", "om_perf", "om_gen", "om_train", "om_inf", "om_hard gollm-cpu", "om_trust"}
	if len(oms) != 2+7 || !reflect.DeepEqual(oms[0], wantHead) {
		t.Fatalf("OM table %q, want header %q and 7 rows", oms, wantHead)
	}
	if oms[len(oms)-1][0] != "wanda 50% [published-example]" || oms[len(oms)-1][5] != "" {
		t.Errorf("published OM row %q: want its label and no om_gen", oms[len(oms)-1])
	}
	// RTN's om_ia counts its failed cell: flagged.
	for _, r := range oms {
		if strings.HasPrefix(r[0], "rtn") && !strings.HasSuffix(r[2], "(1⚑)") {
			t.Errorf("rtn om_ia %q does not say one ratio was not measured", r[2])
		}
	}
}

func TestMarkdownEscapesAndEmptyTracks(t *testing.T) {
	s := &bench.Summary{
		Methods: []string{bench.Dense},
		Tracks: []bench.Track{
			{ID: "1", Title: "Compression performance", Columns: []bench.Column{{Name: "mmlu", Metric: "acc"}},
				Rows: []bench.Row{{Model: "a|b<script>x</script>", Method: bench.Dense, Source: "gollm", Values: []bench.Value{{V: 0.5}}}}},
			{ID: "5", Title: "Hardware acceleration"},
		},
	}
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	if strings.Contains(doc, "<script>") {
		t.Error("a model name's HTML reached the Markdown unescaped")
	}
	rows := mdTables(doc)["Track 1: Compression performance"]
	if len(rows) != 3 || len(rows[2]) != 3 || rows[2][0] != "a|b&lt;script&gt;x&lt;/script&gt;" {
		t.Errorf("track 1 table %q: want the model's pipe escaped inside one cell", rows)
	}
	if !strings.Contains(doc, "## Track 5: Hardware acceleration\n\nNo measurements.") {
		t.Error("a track without rows does not say it has no measurements")
	}
	if !strings.Contains(doc, "No overall metrics") || !strings.Contains(doc, "## Problems\n\nNone") {
		t.Error("an empty OM table or problem list is not said so")
	}
}

func TestJSONIsTheSummary(t *testing.T) {
	s := fixture(t)
	var b bytes.Buffer
	if err := JSON(&b, s); err != nil {
		t.Fatal(err)
	}
	var back bench.Summary
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, s) {
		t.Error("the JSON report does not decode to the Summary it was written from")
	}
	if !bytes.Contains(b.Bytes(), []byte("\n  \"study\"")) {
		t.Error("the JSON report is not indented")
	}
}

func TestFormatCI(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		ci   *[2]float64
		want string
	}{
		{46.31, nil, "46.31"},
		{46.31, &[2]float64{44.21, 48.41}, "46.31 ±2.10"},
		{5.473, &[2]float64{5.201, 5.799}, "5.473 [5.201, 5.799]"},
		{0.4631, &[2]float64{0.4421, 0.4841}, "0.4631 ±0.0210"},
		{245.91, nil, "245.9"},
		{12345.6, nil, "12346"},
		{0, nil, "0.00"},
	} {
		if got := formatCI(tc.v, tc.ci); got != tc.want {
			t.Errorf("formatCI(%v, %v) = %q, want %q", tc.v, tc.ci, got, tc.want)
		}
	}
}

func TestShortMethodAndBits(t *testing.T) {
	for _, tc := range []struct {
		method, setting, short string
		bits                   float64
	}{
		{bench.Dense, "", "dense", 16},
		{bench.Dense, "fp16", "dense fp16", 16},
		{"gptq:bits=4,group=128,sym=false,act_order=false", "", "gptq bits=4 group=128", 4},
		{"gptq", "w4a16", "gptq w4a16", 4},
		{"smoothquant", "W8A8", "smoothquant W8A8", 8},
		{"llm.int8", "int8", "llm.int8 int8", 8},
		{"wanda:sparsity=0.5,pattern=none", "", "wanda sparsity=0.5", 16},
		{"sparsegpt:sparsity=auto,pattern=2:4", "", "sparsegpt pattern=2:4", 16},
		{"omniquant:bits=3,abits=16,group=-1", "", "omniquant bits=3 group=-1", 3},
		{"omniquant:bits=4,abits=4,group=-1", "", "omniquant bits=4 abits=4 group=-1", 4},
		{"wanda", "50%", "wanda 50%", 16},
	} {
		if got := shortMethod(tc.method, tc.setting); got != tc.short {
			t.Errorf("shortMethod(%q, %q) = %q, want %q", tc.method, tc.setting, got, tc.short)
		}
		if got := weightBits(tc.method, tc.setting); got != tc.bits {
			t.Errorf("weightBits(%q, %q) = %v, want %v", tc.method, tc.setting, got, tc.bits)
		}
	}
}

// Two specs with one label (RTN at two group sizes) are told apart, and
// the Methods table gives each label's spec.
func TestMarkdownSameLabel(t *testing.T) {
	row := func(method, setting string, v float64) bench.Row {
		return bench.Row{Model: "m", Method: method, Setting: setting, Source: "gollm", Values: []bench.Value{{V: v}}}
	}
	s := &bench.Summary{
		Methods: []string{bench.Dense, "rtn:bits=4,group=128", "rtn:bits=4,group=8"},
		Tracks: []bench.Track{{ID: "1", Title: "Compression performance", Columns: []bench.Column{{Name: "mmlu", Metric: "acc"}},
			Rows: []bench.Row{row(bench.Dense, "", 50), row("rtn:bits=4,group=128", "w4a16", 45), row("rtn:bits=4,group=8", "w4a16", 47)}}},
	}
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	tables := mdTables(b.String())
	var methods []string
	for _, r := range tables["Track 1: Compression performance"][2:] {
		methods = append(methods, r[1])
	}
	if want := []string{"dense", "rtn w4a16 #1", "rtn w4a16 #2"}; !reflect.DeepEqual(methods, want) {
		t.Errorf("methods %q, want %q", methods, want)
	}
	specs := tables["Methods"]
	if len(specs) != 4 || specs[2][0] != "rtn w4a16 #1" || specs[2][1] != "`rtn:bits=4,group=128`" || specs[3][1] != "`rtn:bits=4,group=8`" {
		t.Errorf("Methods table %q: want both specs", specs)
	}
}
