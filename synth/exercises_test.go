package synth

import (
	"context"
	"encoding/json"
	"io"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/eval"
)

// finalFact parses a knowledge question with the templates and returns
// the fact it asks for (the last hop's subject and relation) and its answer.
func finalFact(w *World, question string) (subj, rel, ans string, ok bool) {
	for _, qs := range QuestionTemplates() {
		for _, q := range qs {
			pat := "^" + strings.Replace(regexp.QuoteMeta(capFirst(q.Text)), `\{S\}`, "(.+)", 1) + "$"
			m := regexp.MustCompile(pat).FindStringSubmatch(question)
			if m == nil {
				continue
			}
			for _, s := range []string{m[1], strings.ToLower(m[1][:1]) + m[1][1:]} {
				cur, last, ok := s, s, true
				for _, r := range q.Chain {
					last = cur
					if cur, ok = w.Lookup(cur, r); !ok {
						break
					}
				}
				if ok {
					return last, q.Chain[len(q.Chain)-1], cur, true
				}
			}
		}
	}
	return "", "", "", false
}

// TestQuizSplit checks the quiz/test split: about half of each relation's
// facts are quiz facts; every scored knowledge item asks a test-part fact;
// every question of the training split's MMLU pages asks a quiz fact and
// its answer letter is right, with letters balanced over A–D.
func TestQuizSplit(t *testing.T) {
	o, err := Generate(Options{Seed: 4, Scale: 1, Repeat: 8})
	if err != nil {
		t.Fatal(err)
	}
	w := o.World
	quiz, all := map[string]int{}, map[string]int{}
	for _, f := range w.Facts {
		all[f.Relation]++
		if w.IsQuiz(f.Subject, f.Relation) {
			quiz[f.Relation]++
		}
	}
	for rel, n := range all {
		if q := quiz[rel]; q < n*4/10 || q > n/2 {
			t.Errorf("relation %s: %d of %d facts in the quiz part, want about half", rel, q, n)
		}
	}
	var questions []string
	for _, f := range o.Files {
		switch {
		case strings.HasPrefix(f.Path, "tasks/mmlu/test/"):
			for _, r := range csvRows(t, f.Data) {
				questions = append(questions, r[0])
			}
		case strings.HasPrefix(f.Path, "tasks/arc_"):
			for _, row := range jsonRows[arcRow](t, f.Data) {
				questions = append(questions, row.Question.Stem)
			}
		case f.Path == "tasks/truthfulqa/multiple_choice/validation.jsonl":
			for _, row := range jsonRows[truthfulRow](t, f.Data) {
				questions = append(questions, row.Question)
			}
		}
	}
	if len(questions) < 100 {
		t.Fatalf("%d knowledge items, want ≥ 100", len(questions))
	}
	for _, q := range questions {
		s, rel, _, ok := finalFact(w, q)
		if !ok || w.IsQuiz(s, rel) {
			t.Errorf("%q: final fact %s(%s) parsed %v, in the quiz part", q, rel, s, ok)
		}
	}
	// The MMLU pages of the training split.
	train := string(o.File("corpus/train.txt").Data)
	page := regexp.MustCompile(`(?m)^(.+\?)\nA\. (.+)\nB\. (.+)\nC\. (.+)\nD\. (.+)\nAnswer: ([ABCD])$`)
	letterCount := map[string]int{}
	pages := page.FindAllStringSubmatch(train, -1)
	if len(pages) < 100 {
		t.Fatalf("%d MMLU questions in the training split, want ≥ 100", len(pages))
	}
	for _, m := range pages {
		s, rel, ans, ok := finalFact(w, m[1])
		if !ok || !w.IsQuiz(s, rel) {
			t.Errorf("training question %q: fact %s(%s) parsed %v, not in the quiz part", m[1], rel, s, ok)
			continue
		}
		if got := m[2+strings.Index("ABCD", m[6])]; got != ans {
			t.Errorf("training question %q: answer %s = %q, the world says %q", m[1], m[6], got, ans)
		}
		letterCount[m[6]]++
	}
	for _, l := range letters {
		if c := letterCount[l]; c < len(pages)/4*9/10 || c > len(pages)/4*11/10 {
			t.Errorf("answer %s on %d of %d training questions, want a quarter ±10%%", l, c, len(pages))
		}
	}
}

// TestNoPromptInTraining checks that no scored item's full prompt (in
// each variant) is in the training split, nor the key text of its answer.
func TestNoPromptInTraining(t *testing.T) {
	o, err := Generate(small(3))
	if err != nil {
		t.Fatal(err)
	}
	train := string(o.File("corpus/train.txt").Data)
	var texts []string
	add := func(xs ...string) { texts = append(texts, xs...) }
	for _, f := range o.Files {
		switch {
		case strings.HasPrefix(f.Path, "tasks/mmlu/test/"):
			rows := csvRows(t, f.Data)
			subj := strings.TrimSuffix(path.Base(f.Path), "_test.csv")
			for _, r := range rows {
				it := kItem{question: r[0], choices: [4]string{r[1], r[2], r[3], r[4]}}
				add(r[0], mmluPage(subj, false, []kItem{it}, false), mmluPage(subj, true, []kItem{it}, false))
			}
		case strings.HasPrefix(f.Path, "tasks/arc_"):
			for _, row := range jsonRows[arcRow](t, f.Data) {
				add(arcPrompt(row.Question.Stem))
			}
		case f.Path == "tasks/truthfulqa/multiple_choice/validation.jsonl":
			for _, row := range jsonRows[truthfulRow](t, f.Data) {
				add("Q: " + row.Question)
			}
		case f.Path == "tasks/qnli/dev.tsv":
			for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n")[1:] {
				c := strings.Split(line, "\t")
				p := qnliPair{question: c[1], sentence: c[2]}
				a, _ := qnliPrompt(p, false)
				b, _ := qnliPrompt(p, true)
				add(c[2], a, b)
			}
		case strings.HasPrefix(f.Path, "tasks/mnli/"):
			for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n")[1:] {
				c := strings.Split(line, "\t")
				p := nliPair{premise: c[4], hypothesis: c[5]}
				a, _ := mnliPrompt(p, false)
				b, _ := mnliPrompt(p, true)
				add(c[4], a, b)
			}
		case f.Path == "tasks/piqa/valid.jsonl":
			labels := strings.Fields(string(o.File("tasks/piqa/valid-labels.lst").Data))
			for i, row := range jsonRows[piqaRow](t, f.Data) {
				sol := row.Sol1
				if labels[i] == "1" {
					sol = row.Sol2
				}
				add(piqaPrompt(row.Goal) + " " + sol)
			}
		case f.Path == "tasks/winogrande/dev.jsonl":
			for _, row := range jsonRows[winoRow](t, f.Data) {
				add(winoFilled(row))
			}
		case f.Path == "tasks/advglue/dev_ann.json":
			var sets map[string][]map[string]any
			if err := json.Unmarshal(f.Data, &sets); err != nil {
				t.Fatal(err)
			}
			for _, rows := range sets {
				for _, row := range rows {
					for k, v := range row {
						if s, ok := v.(string); ok && k != "method" {
							add(s)
						}
					}
				}
			}
		}
	}
	if len(texts) < 1000 {
		t.Fatalf("%d item texts checked, want ≥ 1000", len(texts))
	}
	for _, s := range texts {
		if strings.Contains(train, s) {
			t.Errorf("in the training split: %q", s)
		}
	}
}

// recLM records the text of every sequence eval feeds it (byteTok ids are
// bytes; id 0 is BOS).
type recLM struct{ seen map[string]bool }

func (m *recLM) VocabSize() int       { return 256 }
func (m *recLM) MaxContext() int      { return 1 << 16 }
func (m *recLM) NewState() eval.State { return &recState{m: m} }

type recState struct {
	m   *recLM
	ids []byte
}

func (s *recState) Append(ids []int) ([]float32, error) {
	for _, id := range ids {
		if id != 0 {
			s.ids = append(s.ids, byte(id))
		}
	}
	s.m.seen[string(s.ids)] = true
	return make([]float32, 256*len(ids)), nil
}
func (s *recState) Len() int       { return len(s.ids) + 1 }
func (s *recState) Truncate(n int) { s.ids = s.ids[:max(n-1, 0)] }

// TestExercisePromptsMatchEval renders task items with the exercise
// formats and checks each rendering is a prompt eval builds for that item
// (so the training pages show the tasks' prompts exactly).
func TestExercisePromptsMatchEval(t *testing.T) {
	o, dir := writeSmall(t, 9)
	for _, tc := range []struct {
		variant, task string
		want          func() string
	}{
		{eval.VariantHarness, "mmlu", func() string { return mmluFirst(t, o, false) }},
		{eval.VariantLLMCBench, "mmlu", func() string { return mmluFirst(t, o, true) }},
		{eval.VariantHarness, "arc_easy", func() string {
			return arcPrompt(jsonRows[arcRow](t, o.File("tasks/arc_easy/ARC-Easy-Test.jsonl").Data)[0].Question.Stem)
		}},
		{eval.VariantHarness, "piqa", func() string {
			return piqaPrompt(jsonRows[piqaRow](t, o.File("tasks/piqa/valid.jsonl").Data)[0].Goal)
		}},
		{eval.VariantHarness, "qnli", func() string { return qnliFirst(o, false) }},
		{eval.VariantLLMCBench, "qnli", func() string { return qnliFirst(o, true) }},
		{eval.VariantHarness, "mnli", func() string { return mnliFirst(o, false) }},
		{eval.VariantLLMCBench, "mnli", func() string { return mnliFirst(o, true) }},
		{eval.VariantLLMCBench, "advglue_sst2", func() string { return advFirst(t, o, "sst2") }},
		{eval.VariantLLMCBench, "advglue_qqp", func() string { return advFirst(t, o, "qqp") }},
		{eval.VariantLLMCBench, "advglue_mnli_mm", func() string { return advFirst(t, o, "mnli-mm") }},
		{eval.VariantLLMCBench, "advglue_rte", func() string { return advFirst(t, o, "rte") }},
	} {
		lm := &recLM{seen: map[string]bool{}}
		cfg := eval.Config{Tasks: []string{tc.task}, DataDir: dir + "/tasks", Limit: 1, PromptVariant: tc.variant}
		if _, err := eval.Run(context.Background(), cfg, lm, byteTok{}, io.Discard); err != nil {
			t.Fatalf("%s %s: %v", tc.variant, tc.task, err)
		}
		want := tc.want()
		found := false
		for s := range lm.seen {
			found = found || s == want || strings.HasPrefix(s, want+" ")
		}
		if !found {
			t.Errorf("%s %s: eval never prompted with the exercise rendering %q", tc.variant, tc.task, want)
		}
	}
}

func mmluFirst(t *testing.T, o *Output, llmcbench bool) string {
	r := csvRows(t, o.File("tasks/mmlu/test/companies_test.csv").Data)[0]
	return mmluPage("companies", llmcbench, []kItem{{question: r[0], choices: [4]string{r[1], r[2], r[3], r[4]}}}, false)
}

func qnliFirst(o *Output, llmcbench bool) string {
	c := strings.Split(strings.Split(string(o.File("tasks/qnli/dev.tsv").Data), "\n")[1], "\t")
	p, _ := qnliPrompt(qnliPair{question: c[1], sentence: c[2]}, llmcbench)
	return p
}

func mnliFirst(o *Output, llmcbench bool) string {
	c := strings.Split(strings.Split(string(o.File("tasks/mnli/dev_matched.tsv").Data), "\n")[1], "\t")
	p, _ := mnliPrompt(nliPair{premise: c[4], hypothesis: c[5]}, llmcbench)
	return p
}

// advFirst renders the first scored AdvGLUE item of key (eval uses no
// shots by default), perturbed as in the file.
func advFirst(t *testing.T, o *Output, key string) string {
	var sets map[string][]map[string]any
	if err := json.Unmarshal(o.File("tasks/advglue/dev_ann.json").Data, &sets); err != nil {
		t.Fatal(err)
	}
	row := sets[key][0]
	var fields [][2]string
	for _, f := range map[string][]string{"sst2": {"sentence"}, "qqp": {"question1", "question2"},
		"mnli-mm": {"premise", "hypothesis"}, "rte": {"sentence1", "sentence2"}}[key] {
		fields = append(fields, [2]string{f, row[f].(string)})
	}
	p, _ := advPrompt(key, advRow{fields: fields, label: int(row["label"].(float64))})
	return p
}
