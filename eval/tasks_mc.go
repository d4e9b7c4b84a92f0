package eval

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// mcLoader reads a task's split, builds one doc per record (first --limit
// records) and returns the scoring run.
func mcLoader(opt func(path string) readOptions, build func(t *taskDef, r record) (*mcDoc, error), score docScore) loader {
	return func(e *env, t *taskDef, res *TaskResult) (func() error, error) {
		docs, files, err := buildDocs(e, t, opt, build)
		if err != nil {
			return nil, err
		}
		res.Files = files
		if err := e.checkDocs(docs, res); err != nil {
			return nil, err
		}
		return func() error { return e.runDocs(docs, score, res) }, nil
	}
}

// buildDocs finds the split, reads it with per-file options and builds docs.
func buildDocs(e *env, t *taskDef, opt func(path string) readOptions, build func(t *taskDef, r record) (*mcDoc, error)) ([]*mcDoc, []string, error) {
	files, err := t.data.find(t.name, e.cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	var recs []record
	for _, f := range files {
		o := readOptions{}
		if opt != nil {
			o = opt(f)
		}
		r, err := readRecords(f, o)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, r...)
	}
	if len(recs) == 0 {
		return nil, nil, badInput(strings.Join(files, ", "), "task %s: the split is empty", t.name)
	}
	recs = limitDocs(e, recs)
	docs := make([]*mcDoc, 0, len(recs))
	for _, r := range recs {
		d, err := build(t, r)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, d)
	}
	return docs, files, nil
}

// classLabel returns a record's class index from the first present column
// of cols: an integer, or one of names (GLUE's TSVs spell labels out).
// noGold reports MultiNLI's "-" (no annotator consensus).
func classLabel(r record, cols []string, names []string) (label int, noGold bool, err error) {
	for _, col := range cols {
		v, ok := r.lookup(col)
		if !ok {
			continue
		}
		if s, isStr := v.(string); isStr {
			s = strings.TrimSpace(s)
			if s == "-" {
				return 0, true, nil
			}
			for i, n := range names {
				if s == n {
					return i, false, nil
				}
			}
		}
		n, ok := asInt(v)
		if !ok {
			return 0, false, r.errf(col, "is %s, want 0..%d or one of %s", describe(v), len(names)-1, strings.Join(names, "/"))
		}
		if n < 0 || n >= len(names) {
			return 0, false, r.errf(col, "label %d out of range 0..%d (test splits carry no labels: use the validation split)", n, len(names)-1)
		}
		return n, false, nil
	}
	return 0, false, r.missing(cols[0])
}

// firstStr returns the first present text column of cols.
func firstStr(r record, cols ...string) (string, error) {
	for _, c := range cols {
		if r.has(c) {
			return r.str(c)
		}
	}
	return "", r.missing(strings.Join(cols, " or "))
}

// ---- ARC --------------------------------------------------------------

var loadARC = mcLoader(nil, arcDoc, scoreAccNorm)

func arcDoc(_ *taskDef, r record) (*mcDoc, error) {
	var q string
	var texts, labels []string
	var err error
	if r.has("question.stem") { // original ARC release
		if q, err = r.str("question.stem"); err != nil {
			return nil, err
		}
		v, _ := r.lookup("question.choices")
		list, ok := v.([]any)
		if !ok {
			return nil, r.errf("question.choices", "is %s, want a list", describe(v))
		}
		for i, c := range list {
			m, ok := c.(map[string]any)
			text, ok1 := m["text"].(string)
			label, ok2 := m["label"].(string)
			if !ok || !ok1 || !ok2 {
				return nil, r.errf("question.choices", "element %d is not {text, label}", i)
			}
			texts, labels = append(texts, text), append(labels, label)
		}
	} else {
		if q, err = r.str("question"); err != nil {
			return nil, err
		}
		if texts, err = r.strList("choices.text"); err != nil {
			return nil, err
		}
		if labels, err = r.strList("choices.label"); err != nil {
			return nil, err
		}
	}
	if len(texts) < 2 || len(texts) != len(labels) {
		return nil, r.errf("choices", "%d texts and %d labels, want two or more of each", len(texts), len(labels))
	}
	key, err := r.str("answerKey")
	if err != nil {
		return nil, err
	}
	gold := slices.Index(labels, key)
	if gold < 0 {
		return nil, r.errf("answerKey", "%q is not one of the choice labels %v", key, labels)
	}
	return newChoiceDoc("Question: "+q+"\nAnswer:", texts, gold), nil
}

// ---- HellaSwag ----------------------------------------------------------

var loadHellaSwag = mcLoader(nil, hellaswagDoc, scoreAccNorm)

var hsBrackets = regexp.MustCompile(`\[.*?\]`)

// hellaswagPreprocess is the harness's hellaswag preprocess().
func hellaswagPreprocess(s string) string {
	s = strings.TrimFunc(s, pyIsSpace)
	s = strings.ReplaceAll(s, " [title]", ". ")
	s = hsBrackets.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, "  ", " ")
}

// pyCapitalize is Python's str.capitalize: first character in title case,
// the rest in lower case.
func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:])
}

func hellaswagDoc(_ *taskDef, r record) (*mcDoc, error) {
	var f [3]string
	for i, c := range []string{"activity_label", "ctx_a", "ctx_b"} {
		s, err := r.str(c)
		if err != nil {
			return nil, err
		}
		f[i] = s
	}
	endings, err := r.strList("endings")
	if err != nil {
		return nil, err
	}
	if len(endings) < 2 {
		return nil, r.errf("endings", "%d endings, want two or more", len(endings))
	}
	gold, err := r.integer("label")
	if err != nil {
		return nil, err
	}
	if gold < 0 || gold >= len(endings) {
		return nil, r.errf("label", "%d out of range 0..%d", gold, len(endings)-1)
	}
	query := hellaswagPreprocess(f[0] + ": " + f[1] + " " + pyCapitalize(f[2]))
	choices := make([]string, len(endings))
	for i, e := range endings {
		choices[i] = hellaswagPreprocess(e)
	}
	return newChoiceDoc(query, choices, gold), nil
}

// ---- PIQA ---------------------------------------------------------------

// loadPIQA reads PIQA; records of the original release get their labels
// from the NAME-labels.lst file beside NAME.jsonl.
func loadPIQA(e *env, t *taskDef, res *TaskResult) (func() error, error) {
	files, err := t.data.find(t.name, e.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var recs []record
	for _, f := range files {
		r, err := readRecords(f, readOptions{})
		if err != nil {
			return nil, err
		}
		if err := attachLabels(f, r); err != nil {
			return nil, err
		}
		recs = append(recs, r...)
	}
	if len(recs) == 0 {
		return nil, badInput(strings.Join(files, ", "), "task %s: the split is empty", t.name)
	}
	recs = limitDocs(e, recs)
	docs := make([]*mcDoc, len(recs))
	for i, r := range recs {
		if docs[i], err = piqaDoc(r); err != nil {
			return nil, err
		}
	}
	res.Files = files
	if err := e.checkDocs(docs, res); err != nil {
		return nil, err
	}
	return func() error { return e.runDocs(docs, scoreAccNorm, res) }, nil
}

// attachLabels sets "label" from NAME-labels.lst (one integer per line)
// when the records of NAME.jsonl have none.
func attachLabels(path string, recs []record) error {
	if len(recs) == 0 || recs[0].has("label") || !strings.HasSuffix(path, ".jsonl") {
		return nil
	}
	lst := strings.TrimSuffix(path, ".jsonl") + "-labels.lst"
	f, err := os.Open(lst)
	if err != nil {
		return badInput(path, "records have no label column and %s is missing: %v", filepath.Base(lst), err)
	}
	defer f.Close()
	var labels []int
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return badInput(lst, "line %d: %q is not an integer", line, s)
		}
		labels = append(labels, n)
	}
	if err := sc.Err(); err != nil {
		return badInput(lst, "read: %v", err)
	}
	if len(labels) != len(recs) {
		return badInput(lst, "%d labels for %d records of %s", len(labels), len(recs), filepath.Base(path))
	}
	for i := range recs {
		recs[i].Fields["label"] = int64(labels[i])
	}
	return nil
}

func piqaDoc(r record) (*mcDoc, error) {
	f, err := r.strs("goal", "sol1", "sol2")
	if err != nil {
		return nil, err
	}
	gold, _, err := classLabel(r, []string{"label"}, []string{"0", "1"})
	if err != nil {
		return nil, err
	}
	return newChoiceDoc("Question: "+f[0]+"\nAnswer:", f[1:], gold), nil
}

// ---- WinoGrande -----------------------------------------------------------

var loadWinoGrande = mcLoader(nil, winograndeDoc, scoreAcc)

// winograndeDoc builds the harness's partial scoring: one context per
// option (the sentence up to "_" with the option filled in), the same
// continuation for both (the rest of the sentence, stripped).
func winograndeDoc(_ *taskDef, r record) (*mcDoc, error) {
	sentence, err := r.str("sentence")
	if err != nil {
		return nil, err
	}
	idx := strings.IndexByte(sentence, '_')
	if idx < 0 {
		return nil, r.errf("sentence", "has no \"_\" blank")
	}
	opts, err := r.strs("option1", "option2")
	if err != nil {
		return nil, err
	}
	ans, err := r.str("answer")
	if err != nil {
		if v, ok := r.lookup("answer"); ok {
			if n, ok := asInt(v); ok {
				ans = strconv.Itoa(n)
				err = nil
			}
		}
		if err != nil {
			return nil, err
		}
	}
	var gold int
	switch ans {
	case "1":
		gold = 0
	case "2":
		gold = 1
	default:
		return nil, r.errf("answer", "%q, want \"1\" or \"2\" (the test split has no answers)", ans)
	}
	target := " " + strings.TrimFunc(sentence[idx+1:], pyIsSpace)
	return &mcDoc{
		contexts: []string{sentence[:idx] + opts[0], sentence[:idx] + opts[1]},
		conts:    []string{target, target},
		gold:     gold,
	}, nil
}

// ---- BoolQ ------------------------------------------------------------------

var loadBoolQ = mcLoader(nil, boolqDoc, scoreAcc)

func boolqDoc(_ *taskDef, r record) (*mcDoc, error) {
	f, err := r.strs("passage", "question")
	if err != nil {
		return nil, err
	}
	gold, _, err := classLabel(r, []string{"label", "answer"}, []string{"no", "yes"})
	if err != nil {
		return nil, err
	}
	return newChoiceDoc(f[0]+"\nQuestion: "+f[1]+"?\nAnswer:", []string{"no", "yes"}, gold), nil
}

// ---- GLUE QNLI and MNLI -----------------------------------------------------

var loadQNLI = mcLoader(nil, qnliDoc, scoreAcc)

func qnliDoc(t *taskDef, r record) (*mcDoc, error) {
	f, err := r.strs("question", "sentence")
	if err != nil {
		return nil, err
	}
	q, s := f[0], f[1]
	gold, _, err := classLabel(r, []string{"label"}, []string{"entailment", "not_entailment"})
	if err != nil {
		return nil, err
	}
	if t.variant == VariantLLMCBench {
		return newLetterDoc([]string{llmcbenchQNLIHeader + "Question:" + q + "\nSentence:" + s + "\nAnswer:"}, []string{"A", "B"}, gold), nil
	}
	return newChoiceDoc(q+"\n"+s+"\nQuestion: Does this response answer the question?\nAnswer:", []string{"yes", "no"}, gold), nil
}

// mnliReadOptions reads MultiNLI's and GLUE's MNLI TSVs without quote
// handling (their sentences contain unbalanced quotes), as the GLUE
// processors do.
func mnliReadOptions(string) readOptions { return readOptions{NoQuotes: true} }

// loadMNLI reads MNLI; rows without a gold label ("-" in MultiNLI's own
// release) are skipped and counted; the LLMCBench variant also reports
// acc_all_rows, counting them as wrong as its script does.
func loadMNLI(e *env, t *taskDef, res *TaskResult) (func() error, error) {
	run, err := mcLoader(mnliReadOptions, mnliDoc, scoreAcc)(e, t, res)
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := run(); err != nil {
			return err
		}
		if t.variant == VariantLLMCBench {
			noGold := res.Skipped[skipNoGold]
			res.Metrics["acc_all_rows"] = res.Metrics["acc"] * float64(res.N) / float64(res.N+noGold)
			res.Counts["acc_all_rows"] = res.N + noGold
		}
		return nil
	}, nil
}

const skipNoGold = `no gold label ("-")`

func mnliDoc(t *taskDef, r record) (*mcDoc, error) {
	premise, err := firstStr(r, "premise", "sentence1")
	if err != nil {
		return nil, err
	}
	hyp, err := firstStr(r, "hypothesis", "sentence2")
	if err != nil {
		return nil, err
	}
	gold, noGold, err := classLabel(r, []string{"label", "gold_label"}, []string{"entailment", "neutral", "contradiction"})
	if err != nil {
		return nil, err
	}
	var d *mcDoc
	if t.variant == VariantLLMCBench {
		d = newLetterDoc([]string{llmcbenchMNLIHeader + "premise:" + premise + "\nhypothesis:" + hyp + "\nAnswer:"}, []string{"A", "B", "C"}, gold)
	} else {
		h := strings.TrimFunc(hyp, pyIsSpace)
		if !strings.HasSuffix(h, ".") {
			h += "."
		}
		d = newChoiceDoc(premise+"\nQuestion: "+h+" True, False or Neither?\nAnswer:", []string{"True", "Neither", "False"}, gold)
	}
	if noGold {
		d.skip = skipNoGold
	}
	return d, nil
}
