package eval

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// Go mirrors of the Hugging Face schemas (lists are parquet LISTs, as
// pyarrow writes them).
type (
	hfARCChoices struct {
		Text  []string `parquet:"text,list"`
		Label []string `parquet:"label,list"`
	}
	hfARC struct {
		ID        string       `parquet:"id"`
		Question  string       `parquet:"question"`
		Choices   hfARCChoices `parquet:"choices"`
		AnswerKey string       `parquet:"answerKey"`
	}
	hfHellaSwag struct {
		Ind           int64    `parquet:"ind"`
		ActivityLabel string   `parquet:"activity_label"`
		CtxA          string   `parquet:"ctx_a"`
		CtxB          string   `parquet:"ctx_b"`
		Endings       []string `parquet:"endings,list"`
		Label         string   `parquet:"label"`
	}
	hfTargets struct {
		Choices []string `parquet:"choices,list"`
		Labels  []int32  `parquet:"labels,list"`
	}
	hfTruthfulQA struct {
		Question string    `parquet:"question"`
		MC1      hfTargets `parquet:"mc1_targets"`
		MC2      hfTargets `parquet:"mc2_targets"`
	}
	hfMMLU struct {
		Question string   `parquet:"question"`
		Subject  string   `parquet:"subject"`
		Choices  []string `parquet:"choices,list"`
		Answer   int64    `parquet:"answer"`
	}
	hfWinoGrande struct {
		Sentence string `parquet:"sentence"`
		Option1  string `parquet:"option1"`
		Option2  string `parquet:"option2"`
		Answer   string `parquet:"answer"`
	}
	hfPage struct {
		Page string `parquet:"page"`
	}
	hfText struct {
		Text string `parquet:"text"`
	}
)

func writeParquet[T any](t *testing.T, path string, rows []T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
}

func mustRecords(t *testing.T, path string, opt readOptions) []record {
	t.Helper()
	recs, err := readRecords(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestParquetMatchesJSONL writes the test data in Hugging Face's parquet
// layouts (config folders, shards, the parquet-conversion layout) and
// checks every metric equals the run on the jsonl/csv/raw files.
func TestParquetMatchesJSONL(t *testing.T) {
	dir := t.TempDir()
	str := func(r record, c string) string { s, _ := r.str(c); return s }

	var arc []hfARC
	for _, r := range mustRecords(t, filepath.Join(testData, "arc_easy/test.jsonl"), readOptions{}) {
		text, _ := r.strList("choices.text")
		label, _ := r.strList("choices.label")
		arc = append(arc, hfARC{str(r, "id"), str(r, "question"), hfARCChoices{text, label}, str(r, "answerKey")})
	}
	writeParquet(t, filepath.Join(dir, "arc_easy/ARC-Easy/test-00000-of-00001.parquet"), arc)
	writeParquet(t, filepath.Join(dir, "arc_easy/ARC-Challenge/test-00000-of-00001.parquet"), arc[:1]) // must be ignored

	var hs []hfHellaSwag
	for _, r := range mustRecords(t, filepath.Join(testData, "hellaswag/hellaswag_val.jsonl"), readOptions{}) {
		endings, _ := r.strList("endings")
		label, _ := r.integer("label")
		ind, _ := r.integer("ind")
		hs = append(hs, hfHellaSwag{int64(ind), str(r, "activity_label"), str(r, "ctx_a"), str(r, "ctx_b"), endings, string(rune('0' + label))})
	}
	writeParquet(t, filepath.Join(dir, "hellaswag/data/validation-00000-of-00001.parquet"), hs)

	var tqa []hfTruthfulQA
	for _, r := range mustRecords(t, filepath.Join(testData, "truthfulqa/multiple_choice/validation.jsonl"), readOptions{}) {
		var tg [2]hfTargets
		for i, c := range []string{"mc1_targets", "mc2_targets"} {
			tg[i].Choices, _ = r.strList(c + ".choices")
			labels, _ := r.intList(c + ".labels")
			for _, l := range labels {
				tg[i].Labels = append(tg[i].Labels, int32(l))
			}
		}
		tqa = append(tqa, hfTruthfulQA{str(r, "question"), tg[0], tg[1]})
	}
	writeParquet(t, filepath.Join(dir, "truthfulqa/multiple_choice/validation-00000-of-00001.parquet"), tqa)

	var wg []hfWinoGrande
	for _, r := range mustRecords(t, filepath.Join(testData, "winogrande/dev.jsonl"), readOptions{}) {
		wg = append(wg, hfWinoGrande{str(r, "sentence"), str(r, "option1"), str(r, "option2"), str(r, "answer")})
	}
	writeParquet(t, filepath.Join(dir, "winogrande/winogrande_xl/validation-00000-of-00001.parquet"), wg)
	writeParquet(t, filepath.Join(dir, "winogrande/winogrande_debiased/validation-00000-of-00001.parquet"), wg[:1])

	var pages []hfPage
	for _, r := range mustRecords(t, filepath.Join(testData, "wikitext/test.jsonl"), readOptions{}) {
		pages = append(pages, hfPage{str(r, "page")})
	}
	writeParquet(t, filepath.Join(dir, "wikitext/wikitext-2-raw-v1/test-00000-of-00001.parquet"), pages)

	lines, err := readLines(filepath.Join(testData, "wikitext2/wiki.test.raw"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []hfText
	for _, l := range lines {
		rows = append(rows, hfText{l})
	}
	// Two shards, concatenated in name order.
	writeParquet(t, filepath.Join(dir, "wikitext2/wikitext-2-raw-v1/test-00000-of-00002.parquet"), rows[:4])
	writeParquet(t, filepath.Join(dir, "wikitext2/wikitext-2-raw-v1/test-00001-of-00002.parquet"), rows[4:])

	// MMLU: cais/mmlu's all/ config beside a per-subject folder in the
	// parquet-conversion layout (all/ wins).
	toHF := func(file, subject string) []hfMMLU {
		var out []hfMMLU
		recs := mustRecords(t, filepath.Join(testData, "mmlu/data", file), readOptions{NoHeader: true, Columns: []string{"question", "A", "B", "C", "D", "answer"}})
		for _, r := range recs {
			a := str(r, "answer")
			out = append(out, hfMMLU{str(r, "question"), subject, []string{str(r, "A"), str(r, "B"), str(r, "C"), str(r, "D")}, int64(a[0] - 'A')})
		}
		return out
	}
	writeParquet(t, filepath.Join(dir, "mmlu/all/test-00000-of-00001.parquet"), append(toHF("test/abstract_algebra_test.csv", "abstract_algebra"), toHF("test/anatomy_test.csv", "anatomy")...))
	writeParquet(t, filepath.Join(dir, "mmlu/all/dev-00000-of-00001.parquet"), append(toHF("dev/abstract_algebra_dev.csv", "abstract_algebra"), toHF("dev/anatomy_dev.csv", "anatomy")...))
	writeParquet(t, filepath.Join(dir, "mmlu/anatomy/test/0000.parquet"), toHF("test/anatomy_test.csv", "anatomy")[:1])
	// The per-subject conversion layout alone, subject from the folder.
	dir2 := t.TempDir()
	for _, s := range []string{"abstract_algebra", "anatomy"} {
		test, dev := toHF("test/"+s+"_test.csv", ""), toHF("dev/"+s+"_dev.csv", "")
		writeParquet(t, filepath.Join(dir2, "mmlu", s, "test/0000.parquet"), test)
		writeParquet(t, filepath.Join(dir2, "mmlu", s, "dev/0000.parquet"), dev)
	}

	m := newHistLM(4096)
	for _, c := range []Config{
		{Tasks: []string{"arc_easy"}},
		{Tasks: []string{"hellaswag"}},
		{Tasks: []string{"truthfulqa_mc1"}},
		{Tasks: []string{"truthfulqa_mc2"}},
		{Tasks: []string{"winogrande"}},
		{Tasks: []string{"wikitext"}, Seqlen: 48},
		{Tasks: []string{"wikitext2"}, Seqlen: 32},
		{Tasks: []string{"mmlu"}, Shots: 2},
		{Tasks: []string{"mmlu"}, Shots: 1, PromptVariant: VariantLLMCBench},
	} {
		want := runOne(t, m, c)
		for _, d := range []string{dir, dir2} {
			if d == dir2 && c.Tasks[0] != "mmlu" {
				continue
			}
			c.DataDir = d
			got := runOne(t, m, c)
			for _, f := range got.Files {
				if filepath.Ext(f) != ".parquet" || filepath.Base(filepath.Dir(f)) == "ARC-Challenge" || filepath.Base(filepath.Dir(f)) == "winogrande_debiased" {
					t.Errorf("%s read %s", c.Tasks[0], f)
				}
			}
			if d == dir && c.Tasks[0] == "mmlu" && len(got.Files) != 2 {
				t.Errorf("mmlu read %v, want all/ only", got.Files)
			}
			if got.N != want.N || len(got.Metrics) != len(want.Metrics) {
				t.Errorf("%s from parquet (%s): n=%d metrics %v, want n=%d %v", c.Tasks[0], d, got.N, got.Metrics, want.N, want.Metrics)
			}
			for k, v := range want.Metrics {
				near(t, c.Tasks[0]+" parquet "+k, got.Metrics[k], v)
			}
		}
	}
}
