package synth

import "strings"

// Exercise document kinds: the training split's pages in the tasks' own
// prompt formats, as real pre-training text holds exam pages and
// exercises. They state only quiz-part facts (World.IsQuiz) and inference
// items with names no task item uses, so no task item is in them.
const (
	KindQuiz     = "quiz"     // MMLU pages: header, questions with A–D lines, "Answer: X"
	KindQA       = "qa"       // ARC pages ("Question: … Answer: <text>") and Q&A ("Q: … A: <statement>")
	KindExercise = "exercise" // QNLI, MNLI, AdvGLUE, PIQA and WinoGrande items with their answers
)

// Prompt texts of package eval (eval/tasks.go, eval/mmlu.go,
// eval/advglue.go); TestExercisePromptsMatchEval holds them together.
const (
	mmluHeader        = "The following are multiple choice questions (with answers) about "
	qnliHarnessSuffix = "\nQuestion: Does this response answer the question?\nAnswer:"
	qnliLLMCBench     = "Please identify whether the sentence answers the question. The answer should be exactly 'A. yes' or 'B. no'.\n\n"
	mnliLLMCBench     = "Please identify whether the premise entails the hypothesis. The answer should be exactly 'A. yes', 'B. maybe' or 'C. no'\n\n"
)

// mmluPage is an MMLU page as eval prompts it: the header (harness: one
// space before the subject; llmcbench: two, as Hendrycks' code writes
// it), then each question with its choices; every question but the last
// is followed by its answer letter.
func mmluPage(subject string, llmcbench bool, items []kItem, answerLast bool) string {
	var b strings.Builder
	b.WriteString(mmluHeader)
	if llmcbench {
		b.WriteString(" ")
	}
	b.WriteString(subject + ".\n\n")
	for i, it := range items {
		b.WriteString(it.question)
		for j, c := range it.choices {
			b.WriteString("\n" + letters[j] + ". " + c)
		}
		b.WriteString("\nAnswer:")
		if i < len(items)-1 || answerLast {
			b.WriteString(" " + letters[it.gold])
		}
		if i < len(items)-1 {
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

// arcPrompt is eval's ARC (and PIQA) prompt; the answer text follows after
// a space.
func arcPrompt(q string) string { return "Question: " + q + "\nAnswer:" }

// piqaPrompt is eval's PIQA prompt.
func piqaPrompt(goal string) string { return arcPrompt(goal) }

// qnliPrompt is eval's QNLI prompt in each variant, and the answer words
// by label (0 entailment, 1 not).
func qnliPrompt(p qnliPair, llmcbench bool) (string, []string) {
	if llmcbench {
		return qnliLLMCBench + "Question:" + p.question + "\nSentence:" + p.sentence + "\nAnswer:", []string{"A", "B"}
	}
	return p.question + "\n" + p.sentence + qnliHarnessSuffix, []string{"yes", "no"}
}

// mnliPrompt is eval's MNLI prompt in each variant, and the answer words
// by label (entailment, neutral, contradiction).
func mnliPrompt(p nliPair, llmcbench bool) (string, []string) {
	if llmcbench {
		return mnliLLMCBench + "premise:" + p.premise + "\nhypothesis:" + p.hypothesis + "\nAnswer:", []string{"A", "B", "C"}
	}
	h := p.hypothesis
	if !strings.HasSuffix(h, ".") {
		h += "."
	}
	return p.premise + "\nQuestion: " + h + " True, False or Neither?\nAnswer:", []string{"True", "Neither", "False"}
}

// advSpec is one AdvGLUE subtask as eval (LLMCBench) prompts it.
type advSpec struct {
	header   string
	labels   []string // prompt labels of the fields, in order
	answers  []string // answer texts by letter
	letterOf []int    // label → index into answers
}

var advSpecs = map[string]advSpec{
	"sst2": {"For each snippet of text, label the sentiment of the text as positive or negative. The answer should be exactly 'A. positive' or 'B. negative'\n",
		[]string{"Sentence: "}, []string{"A. positive", "B. negative"}, []int{1, 0}},
	"qqp": {"Please identify whether Question 1 has the same meaning as Question 2. The answer should be exactly 'A. yes' or 'B. no'\n",
		[]string{"Question 1: ", "\nQuestion 2: "}, []string{"A. yes", "B. no"}, []int{1, 0}},
	"mnli": {"Please identify whether the premise entails the hypothesis. The answer should be exactly 'A. yes', 'B. maybe' or 'C. no'\n",
		[]string{"Premise: ", "\nHypothesis: "}, []string{"A. yes", "B. maybe", "C. no"}, []int{0, 1, 2}},
	"qnli": {"Please identify whether the sentence answers the question. The answer should be exactly 'A. yes' or 'B. no'\n",
		[]string{"Question: ", "\nSentence: "}, []string{"A. yes", "B. no"}, []int{0, 1}},
	"rte": {"Please identify whether the sentence1 entails the sentence2. The answer should be exactly 'A. yes' or 'B. no'\n",
		[]string{"Sentence 1: ", "\nSentence 2: "}, []string{"A. yes", "B. no"}, []int{0, 1}},
}

// advPrompt is eval's AdvGLUE prompt of a row (ending in "Answer: ") and
// the row's answer text.
func advPrompt(key string, row advRow) (string, string) {
	s := advSpecs[strings.TrimSuffix(key, "-mm")]
	var b strings.Builder
	b.WriteString(s.header)
	for i, f := range row.fields {
		b.WriteString(s.labels[i] + f[1])
	}
	b.WriteString("\nAnswer: ")
	return b.String(), s.answers[s.letterOf[row.label]]
}

// exerciseReps is how many times the exercise documents state each quiz
// fact (a quarter of Repeat, at least one).
func exerciseReps(opt Options) int { return max(1, opt.Repeat/4) }

// quizReps is how many MMLU pages state each quiz fact: Repeat, four
// times the other exercises, each time with other choices in another
// order; the answer letter is one token of a 30-token question, the
// scarcest signal of the corpus.
func quizReps(opt Options) int { return max(1, opt.Repeat) }

// pages groups texts into documents of per texts each, joined by a blank
// line.
func pages(kind string, texts []string, per int) []Document {
	var out []Document
	for i := 0; i < len(texts); i += per {
		out = append(out, Document{Kind: kind, Body: strings.Join(texts[i:min(i+per, len(texts))], "\n\n"), Train: true})
	}
	return out
}

// buildExercises writes the exercise documents (KindQuiz, KindQA,
// KindExercise). Inference items draw their names from a stream of their
// own and mark them in used, so the tasks, drawn later from the same used
// set, never share a name with them.
func buildExercises(w *World, opt Options, used map[string]bool) []Document {
	g := &taskGen{w: w, opt: opt, fresh: &namer{r: newRNG(opt.Seed, "exercise names"), used: used}}
	reps := exerciseReps(opt)
	var docs []Document

	// Knowledge: quiz-part facts in MMLU, ARC and Q&A form.
	r := newRNG(opt.Seed, "exercise knowledge")
	type cand struct {
		q Question
		s string
	}
	quizCands := func(qs []Question) []cand {
		var out []cand
		for _, q := range qs {
			for _, s := range w.byType[subjectType[q.Chain[0]]] {
				if ans, path, ok := w.follow(s, q.Chain); ok && ans != "" && w.IsQuiz(lastFact(s, path), q.Chain[len(q.Chain)-1]) {
					out = append(out, cand{q, s})
				}
			}
		}
		return out
	}
	for _, subj := range mmluSubjects {
		cs := quizCands(mmluQuestions[subj])
		for k := 0; k < quizReps(opt); k++ {
			shuffle(r, cs)
			for i := 0; i < len(cs); i += 4 {
				golds := r.Perm(4) // letters balanced over A–D
				var items []kItem
				for j, c := range cs[i:min(i+4, len(cs))] {
					if it, ok := g.knowledgeItem(r, c.q, c.s, golds[j], true); ok {
						items = append(items, it)
					}
				}
				if len(items) > 0 {
					docs = append(docs, Document{Kind: KindQuiz, Body: mmluPage(subj, r.chance(0.5), items, true), Train: true})
				}
			}
		}
	}
	var arc, qa []string
	arcCands := quizCands(append(append([]Question{}, arcEasyQuestions...), arcChallengeQuestions...))
	var single []Question
	for _, qs := range [][]Question{mmluQuestions["companies"], mmluQuestions["geography"], mmluQuestions["history"], mmluQuestions["products"], arcEasyQuestions, truthfulAsQuestions()} {
		single = append(single, qs...)
	}
	qaCands := quizCands(single)
	for k := 0; k < reps; k++ {
		for _, c := range arcCands {
			ans, _, _ := w.follow(c.s, c.q.Chain)
			arc = append(arc, arcPrompt(fill(c.q.Text, c.s, ""))+" "+ans)
		}
		if k%2 == 0 { // Q&A at half the rate: they repeat the same facts
			for _, c := range qaCands {
				ans, _, _ := w.follow(c.s, c.q.Chain)
				qa = append(qa, "Q: "+fill(c.q.Text, c.s, "")+"\nA: "+fill(pick(r, statements[c.q.Chain[0]]), c.s, ans))
			}
		}
	}
	shuffle(r, arc)
	shuffle(r, qa)
	docs = append(docs, pages(KindQA, arc, 4)...)
	docs = append(docs, pages(KindQA, qa, 4)...)

	// Inference and trust: the tasks' generators on a stream of their own,
	// clean (no AdvGLUE perturbation), with the answer after the prompt.
	r = newRNG(opt.Seed, "exercise inference")
	n := 20 * opt.Scale * reps
	var qnli, mnli, advs, piqa, wino []string
	for i, p := range g.qnliPairs(r, n) {
		prompt, ans := qnliPrompt(p, i%2 == 1)
		qnli = append(qnli, prompt+" "+ans[p.label])
	}
	for i, p := range g.nliPairs(r, append(append([]string{}, matchedGenres...), mismatchedGenres...), n) {
		prompt, ans := mnliPrompt(p, i%2 == 1)
		mnli = append(mnli, prompt+" "+ans[p.label])
	}
	adv := g.advglueRows(r, n/2)
	for _, k := range advKeys {
		for _, row := range adv[k] {
			// The prompt ends in "Answer: " and eval scores the letter's
			// token, which brings its own space with the world's
			// prefix-space tokenizer (as "▁A" does with LLaMA's): the
			// text of the scored sequence has two spaces.
			prompt, ans := advPrompt(k, row)
			advs = append(advs, prompt+" "+ans)
		}
	}
	rows, labels := g.piqaRows(r, n, piqaExercise(newRNG(opt.Seed, "piqa split"), &w.Rules), true)
	for i, row := range rows {
		sol := row.Sol1
		if labels[i] == "1" {
			sol = row.Sol2
		}
		piqa = append(piqa, piqaPrompt(row.Goal)+" "+sol)
	}
	for _, row := range g.winoRows(r, n) {
		wino = append(wino, winoFilled(row))
	}
	for _, ex := range [][]string{qnli, mnli, advs, piqa, wino} {
		shuffle(r, ex)
		docs = append(docs, pages(KindExercise, ex, 3)...)
	}
	return docs
}

// kindCounts counts documents by kind, for MANIFEST.json.
func kindCounts(docs []Document) map[string]int {
	out := map[string]int{}
	for _, d := range docs {
		out[d.Kind]++
	}
	return out
}
