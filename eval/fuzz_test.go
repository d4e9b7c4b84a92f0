package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The fuzz targets feed arbitrary bytes to every reader of user files and
// to every task's record builder: errors are fine, panics are not.

func FuzzParseJSONL(f *testing.F) {
	f.Add([]byte(`{"a": 1}` + "\n" + `{"b": [1, "x"]}`))
	f.Add([]byte("{\"a\": \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := parseJSONL(bytes.NewReader(data), "f.jsonl")
		if err == nil {
			for _, r := range recs {
				if r.Fields == nil || r.Row < 1 {
					t.Fatalf("bad record %+v", r)
				}
			}
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`[{"a": 1}, {"a": 2}]`))
	f.Add([]byte(`{"sst2": [{"sentence": "x", "label": 1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseJSON(bytes.NewReader(data), "f.json")
	})
}

func FuzzParseDelimited(f *testing.F) {
	f.Add([]byte("a\tb\n1\t\"2\n3\"\n"), true, false)
	f.Add([]byte("q,1,2,3,4,A\n"), false, true)
	f.Fuzz(func(t *testing.T, data []byte, tab, noQuotes bool) {
		comma := ','
		if tab {
			comma = '\t'
		}
		recs, err := parseDelimited(bytes.NewReader(data), "f.tsv", comma, readOptions{NoQuotes: noQuotes})
		if err == nil && len(recs) > 0 {
			n := len(recs[0].Fields)
			for _, r := range recs {
				if len(r.Fields) != n {
					t.Fatalf("ragged records")
				}
			}
		}
		_, _ = parseDelimited(bytes.NewReader(data), "f.csv", comma, readOptions{NoHeader: true, Columns: []string{"question", "A", "B", "C", "D", "answer"}})
	})
}

func FuzzReadParquet(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.parquet")
	if err := parquet.WriteFile(seed, []hfARC{{ID: "x", Question: "q", Choices: hfARCChoices{[]string{"a", "b"}, []string{"A", "B"}}, AnswerKey: "A"}}); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("PAR1"))
	p := filepath.Join(dir, "f.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = readParquet(p)
	})
}

// FuzzDocBuilders decodes a JSON object and hands it to every task's
// builder; a built doc must be scorable (choices, gold in range).
func FuzzDocBuilders(f *testing.F) {
	for _, s := range []string{
		`{"question": "Q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "B"}`,
		`{"question": {"stem": "Q", "choices": [{"text": "a", "label": "A"}]}, "answerKey": "A"}`,
		`{"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x [title] y", "z"], "label": "1"}`,
		`{"goal": "g", "sol1": "a", "sol2": "b", "label": 1}`,
		`{"sentence": "a _ b", "option1": "x", "option2": "y", "answer": "2"}`,
		`{"passage": "p", "question": "q", "answer": true}`,
		`{"question": "q", "sentence": "s", "label": "not_entailment"}`,
		`{"sentence1": "p", "sentence2": "h", "gold_label": "-"}`,
		`{"question": "q", "mc1_targets": {"choices": ["a", "b"], "labels": [1, 0]}, "mc2_targets": {"choices": ["a", "b", "c"], "labels": [1, 1, 0]}}`,
		`{"Question": "q", "Best Answer": "b", "Correct Answers": "b; c", "Incorrect Answers": "d"}`,
	} {
		f.Add([]byte(s))
	}
	harness := &taskDef{variant: VariantHarness}
	llmc := &taskDef{variant: VariantLLMCBench}
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, err := decodeObject(data)
		if err != nil {
			return
		}
		r := record{File: "f.jsonl", Row: 1, Fields: fields}
		check := func(d *mcDoc, err error) {
			if err != nil || d.skip != "" {
				return
			}
			if len(d.conts) == 0 || d.gold < 0 || d.gold >= len(d.conts) {
				t.Fatalf("doc %+v", d)
			}
			if !d.letters && len(d.contexts) != 1 && len(d.contexts) != len(d.conts) {
				t.Fatalf("contexts %d for %d choices", len(d.contexts), len(d.conts))
			}
			if d.normLen != nil && len(d.normLen) != len(d.conts) {
				t.Fatalf("normLen")
			}
		}
		check(arcDoc(harness, r))
		check(hellaswagDoc(harness, r))
		check(piqaDoc(r))
		check(winograndeDoc(harness, r))
		check(boolqDoc(harness, r))
		check(qnliDoc(harness, r))
		check(qnliDoc(llmc, r))
		check(mnliDoc(harness, r))
		check(mnliDoc(llmc, r))
		check(truthfulQAHarnessDoc(r, false))
		check(truthfulQAHarnessDoc(r, true))
		check(truthfulQACSVDoc(r))
	})
}

func FuzzWikitextDetokenize(f *testing.F) {
	f.Add(" = Title = \n The game 's engine ( \" x \" ) 10 @,@ 000 . \n")
	f.Fuzz(func(t *testing.T, s string) {
		_ = wikitextDetokenize(s)
		if pyWordCount(s) < 1 {
			t.Fatal("word count below 1")
		}
		_ = hellaswagPreprocess(s)
		_ = pyCapitalize(s)
	})
}
