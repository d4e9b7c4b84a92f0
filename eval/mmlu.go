package eval

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// mmluCategory maps each MMLU subject to the harness's category group
// (lm_eval/tasks/mmlu/default/mmlu_*.yaml). Hendrycks' categories.py
// agrees except for anatomy, which it files under "other".
var mmluCategory = func() map[string]string {
	m := map[string]string{}
	for cat, subjects := range map[string]string{
		"stem": "abstract_algebra anatomy astronomy college_biology college_chemistry college_computer_science " +
			"college_mathematics college_physics computer_security conceptual_physics electrical_engineering " +
			"elementary_mathematics high_school_biology high_school_chemistry high_school_computer_science " +
			"high_school_mathematics high_school_physics high_school_statistics machine_learning",
		"humanities": "formal_logic high_school_european_history high_school_us_history high_school_world_history " +
			"international_law jurisprudence logical_fallacies moral_disputes moral_scenarios philosophy " +
			"prehistory professional_law world_religions",
		"social_sciences": "econometrics high_school_geography high_school_government_and_politics " +
			"high_school_macroeconomics high_school_microeconomics high_school_psychology human_sexuality " +
			"professional_psychology public_relations security_studies sociology us_foreign_policy",
		"other": "business_ethics clinical_knowledge college_medicine global_facts human_aging management " +
			"marketing medical_genetics miscellaneous nutrition professional_accounting professional_medicine virology",
	} {
		for _, s := range strings.Fields(subjects) {
			m[s] = cat
		}
	}
	return m
}()

// mmluItem is one MMLU question.
type mmluItem struct {
	question string
	choices  [4]string
	answer   int
}

var mmluLetters = []string{"A", "B", "C", "D"}

// mmluSplits holds the questions of every subject.
type mmluSplits struct {
	test, dev map[string][]mmluItem
	files     []string
}

// loadMMLURoot returns MMLU's folder under dataDir, or an error saying
// where it should be.
func loadMMLURoot(dataDir string, d dataSpec) (string, error) {
	if dataDir == "" {
		return "", badInput("", "task mmlu needs --data DIR with mmlu/ (from %s)", d.Source)
	}
	root := filepath.Join(dataDir, d.Dirs[0])
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return "", badInput(root, "task mmlu: folder not found (get it from %s)", d.Source)
	}
	return root, nil
}

// loadMMLUData reads DIR/mmlu in one of the layouts: Hendrycks' CSVs
// (*_test.csv, *_dev.csv, no header), or Hugging Face's cais/mmlu or
// hails/mmlu_no_train (an all/ folder, or one folder per subject, each with
// test and dev split files).
func loadMMLUData(dataDir string, d dataSpec) (*mmluSplits, error) {
	root, err := loadMMLURoot(dataDir, d)
	if err != nil {
		return nil, err
	}
	s := &mmluSplits{test: map[string][]mmluItem{}, dev: map[string][]mmluItem{}}
	csvTests, err := walkMatching(root, func(p string) bool { return strings.HasSuffix(p, "_test.csv") })
	if err != nil {
		return nil, err
	}
	if len(csvTests) > 0 {
		csvDevs, err := walkMatching(root, func(p string) bool { return strings.HasSuffix(p, "_dev.csv") })
		if err != nil {
			return nil, err
		}
		for _, set := range []struct {
			files  []string
			suffix string
			into   map[string][]mmluItem
		}{{csvTests, "_test.csv", s.test}, {csvDevs, "_dev.csv", s.dev}} {
			for _, f := range set.files {
				subject := strings.TrimSuffix(filepath.Base(f), set.suffix)
				items, err := readMMLUFile(f, subject, true)
				if err != nil {
					return nil, err
				}
				if set.suffix == "_test.csv" && len(items[subject]) == 0 {
					// An empty subject would drop out of the average unseen.
					return nil, badInput(f, "task mmlu: no questions (an empty test file)")
				}
				set.into[subject] = append(set.into[subject], items[subject]...)
				s.files = append(s.files, f)
			}
		}
		return s, nil
	}
	for _, set := range []struct {
		split string
		into  map[string][]mmluItem
	}{{"test", s.test}, {"dev", s.dev}} {
		spec := dataSpec{Split: set.split}
		files, err := walkMatching(root, spec.matches)
		if err != nil {
			return nil, err
		}
		// The config folder of a file: PATH/CONFIG/SPLIT-*.parquet or, in the
		// parquet-conversion layout, PATH/CONFIG/SPLIT/0000.parquet.
		config := func(f string) string {
			dir := filepath.Dir(f)
			if filepath.Base(dir) == set.split {
				dir = filepath.Dir(dir)
			}
			return filepath.Base(dir)
		}
		// Prefer the all/ config when the per-subject folders are there too.
		var all []string
		for _, f := range files {
			if config(f) == "all" {
				all = append(all, f)
			}
		}
		if len(all) > 0 {
			files = all
		}
		for _, f := range files {
			items, err := readMMLUFile(f, config(f), false)
			if err != nil {
				return nil, err
			}
			if set.split == "test" && len(items) == 0 {
				return nil, badInput(f, "task mmlu: no questions (an empty test file)")
			}
			for subj, it := range items {
				set.into[subj] = append(set.into[subj], it...)
			}
			s.files = append(s.files, f)
		}
	}
	if len(s.test) == 0 {
		return nil, badInput(root, "task mmlu: no test split found (want all/test-00000-of-00001.parquet, <subject>/test-*.parquet, or test/<subject>_test.csv; get it from %s)", d.Source)
	}
	return s, nil
}

// readMMLUFile reads one file of questions, by subject. Hendrycks' CSVs
// are (question, A, B, C, D, answer letter) with no header; Hugging Face
// files have question, choices, answer and usually subject (folder name
// otherwise).
func readMMLUFile(path, folderSubject string, hendrycks bool) (map[string][]mmluItem, error) {
	opt := readOptions{}
	if hendrycks {
		opt = readOptions{NoHeader: true, Columns: []string{"question", "A", "B", "C", "D", "answer"}}
	}
	recs, err := readRecords(path, opt)
	if err != nil {
		return nil, err
	}
	out := map[string][]mmluItem{}
	for _, r := range recs {
		var it mmluItem
		if it.question, err = r.str("question"); err != nil {
			return nil, err
		}
		subject := folderSubject
		if hendrycks {
			for i, l := range mmluLetters {
				if it.choices[i], err = r.str(l); err != nil {
					return nil, err
				}
			}
			a, err := r.str("answer")
			if err != nil {
				return nil, err
			}
			it.answer = strings.Index("ABCD", strings.TrimSpace(a))
			if len(strings.TrimSpace(a)) != 1 || it.answer < 0 {
				return nil, r.errf("answer", "%q, want A, B, C or D", a)
			}
		} else {
			ch, err := r.strList("choices")
			if err != nil {
				return nil, err
			}
			if len(ch) != 4 {
				return nil, r.errf("choices", "%d choices, want 4", len(ch))
			}
			copy(it.choices[:], ch)
			if it.answer, err = r.integer("answer"); err != nil {
				return nil, err
			}
			if it.answer < 0 || it.answer > 3 {
				return nil, r.errf("answer", "%d out of range 0..3", it.answer)
			}
			if r.has("subject") {
				if s, err := r.str("subject"); err == nil && s != "" {
					subject = s
				}
			}
		}
		out[subject] = append(out[subject], it)
	}
	return out, nil
}

// mmluHarnessText is the harness's doc_to_text.
func mmluHarnessText(it mmluItem) string {
	var b strings.Builder
	b.WriteString(strings.TrimFunc(it.question, pyIsSpace))
	for i, c := range it.choices {
		b.WriteString("\n" + mmluLetters[i] + ". " + c)
	}
	b.WriteString("\nAnswer:")
	return b.String()
}

// mmluHendrycksText is Hendrycks' format_example (no strip).
func mmluHendrycksText(it mmluItem) string {
	var b strings.Builder
	b.WriteString(it.question)
	for i, c := range it.choices {
		b.WriteString("\n" + mmluLetters[i] + ". " + c)
	}
	b.WriteString("\nAnswer:")
	return b.String()
}

// loadMMLU builds MMLU's requests: per subject (sorted), the first --limit
// questions, each with the first Shots dev questions as examples.
func loadMMLU(e *env, t *taskDef, res *TaskResult) (func() error, error) {
	data, err := loadMMLUData(e.cfg.DataDir, t.data)
	if err != nil {
		return nil, err
	}
	res.Files = data.files
	shots := e.cfg.Shots
	subjects := make([]string, 0, len(data.test))
	for s := range data.test {
		subjects = append(subjects, s)
	}
	sort.Strings(subjects)
	var docs []*mcDoc
	for _, subj := range subjects {
		dev := data.dev[subj]
		if shots > len(dev) {
			return nil, badInput(filepath.Join(e.cfg.DataDir, t.data.Dirs[0]), "task mmlu: subject %s has %d dev questions, fewer than %d shots", subj, len(dev), shots)
		}
		words := strings.ReplaceAll(subj, "_", " ")
		cat := mmluCategory[subj]
		if t.variant == VariantLLMCBench && subj == "anatomy" {
			cat = "other" // Hendrycks' categories.py
		}
		groups := []string{subj}
		if cat != "" {
			groups = append(groups, "category:"+cat)
		}
		for _, it := range limitDocs(e, data.test[subj]) {
			var d *mcDoc
			if t.variant == VariantLLMCBench {
				header := "The following are multiple choice questions (with answers) about " + " " + words + ".\n\n"
				prompts := make([]string, 0, shots+1)
				for k := shots; k >= 0; k-- {
					var b strings.Builder
					b.WriteString(header)
					for _, s := range dev[:k] {
						b.WriteString(mmluHendrycksText(s) + " " + mmluLetters[s.answer] + "\n\n")
					}
					b.WriteString(mmluHendrycksText(it))
					prompts = append(prompts, b.String())
				}
				d = newLetterDoc(prompts, mmluLetters, it.answer)
			} else {
				var b strings.Builder
				b.WriteString("The following are multiple choice questions (with answers) about " + words + ".\n\n")
				for _, s := range dev[:shots] {
					b.WriteString(mmluHarnessText(s) + " " + mmluLetters[s.answer] + "\n\n")
				}
				b.WriteString(mmluHarnessText(it))
				d = newChoiceDoc(b.String(), mmluLetters, it.answer)
			}
			d.groups = groups
			docs = append(docs, d)
		}
	}
	if e.cfg.Limit > 0 {
		res.Notes = append(res.Notes, "--limit applies per subject, as the harness's per-subject tasks")
	}
	if err := e.checkDocs(docs, res); err != nil {
		return nil, err
	}
	return func() error { return e.runDocs(docs, scoreAcc, res) }, nil
}
