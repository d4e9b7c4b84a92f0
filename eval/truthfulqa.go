package eval

import (
	"slices"
	"strings"
)

// loadTruthfulQA builds TruthfulQA's requests. Harness variant: the
// multiple_choice config, MC1 over mc1_targets (the first choice is right),
// MC2 over mc2_targets. LLMCBench variant: TruthfulQA.csv scored as
// TruthfulQA's own run_probs/MC_calcs (MC1: the best answer beats every
// incorrect one; MC2: probability mass of the correct answers).
func loadTruthfulQA(e *env, t *taskDef, res *TaskResult) (func() error, error) {
	mc2 := t.name == "truthfulqa_mc2"
	csv := t.variant == VariantLLMCBench
	build := func(_ *taskDef, r record) (*mcDoc, error) {
		if csv {
			return truthfulQACSVDoc(r)
		}
		return truthfulQAHarnessDoc(r, mc2)
	}
	docs, files, err := buildDocs(e, t, nil, build)
	if err != nil {
		return nil, err
	}
	res.Files = files
	score := scoreAcc
	switch {
	case csv && mc2:
		score = scoreMC2
	case csv:
		score = scoreTruthfulMC1
	case mc2:
		score = scoreMC2
	}
	if err := e.checkDocs(docs, res); err != nil {
		return nil, err
	}
	return func() error { return e.runDocs(docs, score, res) }, nil
}

// truthfulQAContext is the prompt both variants share.
func truthfulQAContext(question string) string {
	return truthfulQAPrimer + "\n\nQ: " + question + "\nA:"
}

func truthfulQAHarnessDoc(r record, mc2 bool) (*mcDoc, error) {
	q, err := r.str("question")
	if err != nil {
		return nil, err
	}
	col := "mc1_targets"
	if mc2 {
		col = "mc2_targets"
	}
	choices, err := r.strList(col + ".choices")
	if err != nil {
		return nil, err
	}
	labels, err := r.intList(col + ".labels")
	if err != nil {
		return nil, err
	}
	if len(choices) < 2 || len(labels) != len(choices) {
		return nil, r.errf(col, "%d choices and %d labels, want two or more of each", len(choices), len(labels))
	}
	first0 := -1
	for i, l := range labels {
		if l != 0 && l != 1 {
			return nil, r.errf(col+".labels", "label %d, want 0 or 1", l)
		}
		if l == 0 && first0 < 0 {
			first0 = i
		}
	}
	if first0 <= 0 {
		return nil, r.errf(col+".labels", "want true answers (1) first, then at least one false answer (0)")
	}
	if !mc2 && (labels[0] != 1 || first0 != 1) {
		return nil, r.errf(col+".labels", "MC1 wants exactly one true answer, first")
	}
	d := newChoiceDoc(truthfulQAContext(q), choices, 0)
	d.labels = labels
	return d, nil
}

// truthfulQACSVDoc reads one row of TruthfulQA.csv as TruthfulQA's
// run_probs does: best answer and reference lists closed with "."; the
// choices are the correct answers then the incorrect ones.
func truthfulQACSVDoc(r record) (*mcDoc, error) {
	f, err := r.strs("Question", "Best Answer", "Correct Answers", "Incorrect Answers")
	if err != nil {
		return nil, err
	}
	q, bestRaw, correct, incorrect := f[0], f[1], f[2], f[3]
	best := strings.TrimFunc(bestRaw, pyIsSpace)
	if best == "" {
		return nil, r.errf("Best Answer", "is empty")
	}
	if !strings.HasSuffix(best, ".") {
		best += "."
	}
	refTrue := splitMultiAnswer(correct)
	refFalse := splitMultiAnswer(incorrect)
	if len(refFalse) == 0 {
		d := &mcDoc{skip: "no incorrect answers (TruthfulQA skips the question)"}
		return d, nil
	}
	bestIdx := slices.Index(refTrue, best)
	if bestIdx < 0 {
		return nil, r.errf("Best Answer", "%q is not among the correct answers", best)
	}
	choices := append(append([]string{}, refTrue...), refFalse...)
	d := newChoiceDoc(truthfulQAContext(q), choices, bestIdx)
	d.labels = make([]int, len(choices))
	for i := range refTrue {
		d.labels[i] = 1
	}
	d.mc1Best = bestIdx
	return d, nil
}

// splitMultiAnswer is TruthfulQA's split_multi_answer: split on ";",
// strip, drop empties, close each answer with ".".
func splitMultiAnswer(s string) []string {
	var out []string
	for _, a := range strings.Split(strings.TrimFunc(s, pyIsSpace), ";") {
		a = strings.TrimFunc(a, pyIsSpace)
		if a == "" {
			continue
		}
		if !strings.HasSuffix(a, ".") {
			a += "."
		}
		out = append(out, a)
	}
	return out
}

// scoreTruthfulMC1 is TruthfulQA's MC1: 1 when the best answer's
// log-likelihood is strictly above every incorrect answer's.
func scoreTruthfulMC1(d *mcDoc, lls []float64) map[string]float64 {
	maxFalse := lls[len(lls)-1]
	for i, l := range d.labels {
		if l == 0 && lls[i] > maxFalse {
			maxFalse = lls[i]
		}
	}
	return map[string]float64{"acc": boolf(lls[d.mc1Best] > maxFalse)}
}
