package synth

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// subjectType is the type of a relation's subjects.
var subjectType = map[string]string{
	RelCapital: Country, RelCountry: City, RelLanguage: Country,
	RelBornIn: Person, RelBirthYear: Person, RelProfession: Person,
	RelFounder: Org, RelHeadquarter: Org, RelFoundedYear: Org, RelIndustry: Org,
	RelMaker: Product, RelReleaseYear: Product, RelCategory: Product,
}

// taskGen builds the task files; items collects every item's text for
// the verbatim check against the training split.
type taskGen struct {
	w     *World
	opt   Options
	train string
	files map[string][]byte
	count map[string]int
	fresh *namer
	// dropped counts items left out because their text is in the training split.
	dropped int
}

// inTrain reports whether an item's text occurs verbatim in the training split.
func (g *taskGen) inTrain(texts ...string) bool {
	for _, t := range texts {
		if strings.Contains(g.train, t) {
			g.dropped++
			return true
		}
	}
	return false
}

func (g *taskGen) put(path string, data []byte, n int) {
	g.files[path] = data
	g.count[path] = n
}

func jsonLines[T any](rows []T) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		j, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ---- knowledge ---------------------------------------------------------

type kItem struct {
	question string
	choices  [4]string
	gold     int
	answer   string
}

// follow returns the object reached from subject along chain, and whether
// every step is a plain fact (no misconception on the way).
func (w *World) follow(subject string, chain []string) (string, []string, bool) {
	cur := subject
	var path []string
	for _, rel := range chain {
		o, ok := w.Lookup(cur, rel)
		if !ok || w.isMisconception(cur, rel) {
			return "", nil, false
		}
		path = append(path, o)
		cur = o
	}
	return cur, path, true
}

// lastFact returns the subject of a chain's last hop from subject (the
// subject itself for one hop, else the next-to-last object on path).
func lastFact(subject string, path []string) string {
	if len(path) < 2 {
		return subject
	}
	return path[len(path)-2]
}

// knowledgeItem builds the question q about subject s with its answer at
// choice gold and three distractors drawn by r. ok is false when the chain
// cannot be followed, crosses a misconception, its final fact is not in
// the wanted part (quiz or test), or distractors run out.
func (g *taskGen) knowledgeItem(r *rng, q Question, s string, gold int, quiz bool) (kItem, bool) {
	ans, path, ok := g.w.follow(s, q.Chain)
	if !ok {
		return kItem{}, false
	}
	last := q.Chain[len(q.Chain)-1]
	if g.w.IsQuiz(lastFact(s, path), last) != quiz {
		return kItem{}, false
	}
	var wrong []string
	// A two-hop trap: an intermediate object of the answer's type.
	for _, p := range path[:len(path)-1] {
		if g.w.TypeOf(p) == g.w.TypeOf(ans) && p != ans && len(wrong) == 0 {
			wrong = append(wrong, p)
		}
	}
	wrong = append(wrong, g.w.answerDistractors(r, last, ans, 3-len(wrong), wrong...)...)
	if len(wrong) < 3 {
		return kItem{}, false
	}
	it := kItem{question: fill(q.Text, s, ""), gold: gold, answer: ans}
	j := 0
	for i := range it.choices {
		if i == it.gold {
			it.choices[i] = ans
		} else {
			it.choices[i] = wrong[j]
			j++
		}
	}
	return it, true
}

// knowledgeItems draws up to n distinct questions from the templates whose
// final fact is in the quiz part (quiz) or the test part (!quiz). Test-part
// items whose text is in the training split are left out.
func (g *taskGen) knowledgeItems(r *rng, qs []Question, n int, skip map[string]bool, quiz bool) []kItem {
	type cand struct {
		q Question
		s string
	}
	var cands []cand
	for _, q := range qs {
		for _, s := range g.w.byType[subjectType[q.Chain[0]]] {
			cands = append(cands, cand{q, s})
		}
	}
	shuffle(r, cands)
	var out []kItem
	for _, c := range cands {
		if len(out) == n {
			break
		}
		key := strings.Join(c.q.Chain, ">") + "|" + c.s
		if skip[key] {
			continue
		}
		it, ok := g.knowledgeItem(r, c.q, c.s, r.IntN(4), quiz)
		if !ok || !quiz && g.inTrain(it.question, it.question+" "+it.answer) {
			continue
		}
		skip[key] = true
		out = append(out, it)
	}
	return out
}

var letters = []string{"A", "B", "C", "D"}

func (g *taskGen) mmlu() {
	r := newRNG(g.opt.Seed, "mmlu")
	for _, subj := range mmluSubjects {
		skip := map[string]bool{}
		test := g.knowledgeItems(r, mmluQuestions[subj], 25*g.opt.Scale, skip, false)
		// The dev questions are few-shot examples, not scored: quiz part.
		dev := g.knowledgeItems(r, mmluQuestions[subj], 5, skip, true)
		for _, set := range []struct {
			dir   string
			items []kItem
		}{{"test", test}, {"dev", dev}} {
			var b bytes.Buffer
			cw := csv.NewWriter(&b)
			for _, it := range set.items {
				cw.Write([]string{it.question, it.choices[0], it.choices[1], it.choices[2], it.choices[3], letters[it.gold]})
			}
			cw.Flush()
			g.put(fmt.Sprintf("tasks/mmlu/%s/%s_%s.csv", set.dir, subj, set.dir), b.Bytes(), len(set.items))
		}
	}
}

type arcChoice struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

type arcRow struct {
	ID       string `json:"id"`
	Question struct {
		Stem    string      `json:"stem"`
		Choices []arcChoice `json:"choices"`
	} `json:"question"`
	AnswerKey string `json:"answerKey"`
}

func (g *taskGen) arc(name, file string, qs []Question) {
	r := newRNG(g.opt.Seed, name)
	items := g.knowledgeItems(r, qs, 100*g.opt.Scale, map[string]bool{}, false)
	rows := make([]arcRow, len(items))
	for i, it := range items {
		rows[i].ID = fmt.Sprintf("synth-%s-%d", name, i)
		rows[i].Question.Stem = it.question
		for j, c := range it.choices {
			rows[i].Question.Choices = append(rows[i].Question.Choices, arcChoice{c, letters[j]})
		}
		rows[i].AnswerKey = letters[it.gold]
	}
	g.put("tasks/"+name+"/"+file, jsonLines(rows), len(rows))
}

// ---- inference -----------------------------------------------------------

type hellaRow struct {
	Ind           int      `json:"ind"`
	ActivityLabel string   `json:"activity_label"`
	CtxA          string   `json:"ctx_a"`
	CtxB          string   `json:"ctx_b"`
	Ctx           string   `json:"ctx"`
	Endings       []string `json:"endings"`
	SourceID      string   `json:"source_id"`
	Split         string   `json:"split"`
	SplitType     string   `json:"split_type"`
	Label         int      `json:"label"`
}

func (g *taskGen) hellaswag() {
	r := newRNG(g.opt.Seed, "hellaswag")
	scr := g.w.Rules.Scripts
	var rows []hellaRow
	for len(rows) < 100*g.opt.Scale {
		si := r.IntN(len(scr))
		s := scr[si]
		k := 2 + r.IntN(len(s.Events)-3) // events 0..k-1 told, k is next
		name := g.fresh.person()
		pron := pick(r, []string{"She", "He"})
		sents := []string{name + " " + s.Events[0]}
		for i := 1; i < k; i++ {
			sents = append(sents, pron+" "+s.Events[i])
		}
		var wrong []string
		for _, i := range r.Perm(len(s.Events)) {
			if i != k && i != k-1 {
				wrong = append(wrong, s.Events[i])
				break
			}
		}
		for len(wrong) < 3 {
			o := scr[r.IntN(len(scr))]
			if o.Name == s.Name {
				continue
			}
			e := pick(r, o.Events)
			dup := false
			for _, x := range wrong {
				dup = dup || x == e
			}
			if !dup {
				wrong = append(wrong, e)
			}
		}
		gold := r.IntN(4)
		endings := make([]string, 4)
		for i, j := 0, 0; i < 4; i++ {
			if i == gold {
				endings[i] = s.Events[k]
			} else {
				endings[i] = wrong[j]
				j++
			}
		}
		ctxA := strings.Join(sents, " ")
		ctxB := strings.ToLower(pron)
		if g.inTrain(ctxA + " " + pron + " " + s.Events[k]) {
			continue
		}
		rows = append(rows, hellaRow{Ind: len(rows), ActivityLabel: capFirst(s.Name), CtxA: ctxA, CtxB: ctxB,
			Ctx: ctxA + " " + ctxB, Endings: endings, SourceID: "synth~" + s.Name, Split: "val", SplitType: "indomain", Label: gold})
	}
	g.put("tasks/hellaswag/hellaswag_val.jsonl", jsonLines(rows), len(rows))
}

type piqaRow struct {
	Goal string `json:"goal"`
	Sol1 string `json:"sol1"`
	Sol2 string `json:"sol2"`
}

// piqaCand is one possible piqa item: m1 meets the goal, m2 does not.
type piqaCand struct {
	goal   Goal
	m1, m2 string
}

// piqaExercise splits, per goal, the materials that meet it: the returned
// (goal, material) pairs are the exercise part (about half, drawn by r),
// which the training split shows as solutions; test items only have a
// right solution from the other part.
func piqaExercise(r *rng, ru *Rules) map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, gl := range ru.Goals {
		var good []string
		for _, m := range ru.Materials {
			if has, _ := ru.PropertyOf(m, gl.Property); has == gl.Want {
				good = append(good, m)
			}
		}
		shuffle(r, good)
		for _, m := range good[:len(good)/2] {
			out[[2]string{gl.Goal, m}] = true
		}
	}
	return out
}

// piqaRows draws up to n piqa items whose right material is in the
// exercise part (exercise) or not (!exercise), with labels "0" or "1".
func (g *taskGen) piqaRows(r *rng, n int, part map[[2]string]bool, exercise bool) ([]piqaRow, []string) {
	ru := &g.w.Rules
	var cands []piqaCand
	for _, gl := range ru.Goals {
		for _, a := range ru.Materials {
			if part[[2]string{gl.Goal, a}] != exercise {
				continue
			}
			for _, b := range ru.Materials {
				ha, _ := ru.PropertyOf(a, gl.Property)
				hb, _ := ru.PropertyOf(b, gl.Property)
				if ha == gl.Want && hb != gl.Want {
					cands = append(cands, piqaCand{goal: gl, m1: a, m2: b})
				}
			}
		}
	}
	shuffle(r, cands)
	var rows []piqaRow
	var labels []string
	for _, c := range cands {
		if len(rows) == n {
			break
		}
		good := strings.ReplaceAll(c.goal.Solution, "{M}", c.m1)
		bad := strings.ReplaceAll(c.goal.Solution, "{M}", c.m2)
		if g.inTrain(c.goal.Goal+" "+good, piqaPrompt(c.goal.Goal)+" "+good) {
			continue
		}
		row := piqaRow{Goal: c.goal.Goal, Sol1: good, Sol2: bad}
		label := "0"
		if r.chance(0.5) {
			row.Sol1, row.Sol2, label = bad, good, "1"
		}
		rows = append(rows, row)
		labels = append(labels, label)
	}
	return rows, labels
}

func (g *taskGen) piqa() {
	r := newRNG(g.opt.Seed, "piqa")
	rows, labels := g.piqaRows(r, 100*g.opt.Scale, piqaExercise(newRNG(g.opt.Seed, "piqa split"), &g.w.Rules), false)
	g.put("tasks/piqa/valid.jsonl", jsonLines(rows), len(rows))
	g.put("tasks/piqa/valid-labels.lst", []byte(strings.Join(labels, "\n")+"\n"), len(labels))
}

type winoRow struct {
	QID      string `json:"qID"`
	Sentence string `json:"sentence"`
	Option1  string `json:"option1"`
	Option2  string `json:"option2"`
	Answer   string `json:"answer"`
}

// winoObjects are the things of winogrande items, singular and plural.
var winoObjects = [][2]string{{"bowl", "bowls"}, {"spoon", "spoons"}, {"toy boat", "toy boats"}, {"box", "boxes"}, {"button", "buttons"}, {"ring", "rings"}, {"whistle", "whistles"}}

// winoFilled is a winogrande sentence with the right option in the blank.
func winoFilled(row winoRow) string {
	opt := row.Option1
	if row.Answer == "2" {
		opt = row.Option2
	}
	return strings.Replace(row.Sentence, "_", opt, 1)
}

func (g *taskGen) winogrande() {
	rows := g.winoRows(newRNG(g.opt.Seed, "winogrande"), 100*g.opt.Scale)
	g.put("tasks/winogrande/dev.jsonl", jsonLines(rows), len(rows))
}

// winoRows draws n winogrande items with fresh first names.
func (g *taskGen) winoRows(r *rng, n int) []winoRow {
	ru := &g.w.Rules
	var rows []winoRow
	for len(rows) < n {
		pi := r.IntN(len(ru.Properties))
		p := ru.Properties[pi]
		var has, lacks []string
		for i, m := range ru.Materials {
			if ru.Physics[i][pi] {
				has = append(has, m)
			} else {
				lacks = append(lacks, m)
			}
		}
		mHas, mLacks := pick(r, has), pick(r, lacks)
		a, b := g.fresh.first(), g.fresh.first()
		obj := pick(r, winoObjects)
		ma, mb := mHas, mLacks
		if r.chance(0.5) {
			ma, mb = mLacks, mHas
		}
		outcome, want := p.OutcomePos, mHas
		if r.chance(0.5) {
			outcome, want = p.OutcomeNeg, mLacks
		}
		s := fmt.Sprintf("%s has a %s made of %s and %s has a %s made of %s. When both %s %s, the %s owned by _ %s.",
			a, obj[0], ma, b, obj[0], mb, obj[1], p.Situation, obj[0], outcome)
		ans := "1"
		if want != ma {
			ans = "2"
		}
		row := winoRow{QID: fmt.Sprintf("synth-%d", len(rows)), Sentence: s, Option1: a, Option2: b, Answer: ans}
		if g.inTrain(winoFilled(row)) {
			continue
		}
		rows = append(rows, row)
	}
	return rows
}

// qnliKind is one question type of qnli: the question, the answering
// sentence and a sentence about the same entity that does not answer it.
type qnliKind struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
	Decoy    string `json:"decoy"`
}

// qnliKinds use {E} for the entity asked about, {X} for a second name.
var qnliKinds = []qnliKind{
	{"Where was {E} born?", "{E} was born in {X} and grew up there.", "{E} moved to {X} as a young {J}."},
	{"Who founded {E}?", "{E} was founded by {X} in a small workshop.", "{E} hired {X} as its first {J}."},
	{"When was {E} founded?", "{E} was founded in {Y} in a rented room.", "{E} moved to a larger building in {Y}."},
	{"Which company makes {E}?", "{E} is made by {X} in its largest workshop.", "{E} is sold in the shops of {X}."},
	{"What is the capital of {E}?", "The capital of {E} is {X}, a city on a river.", "The largest port of {E} is {X}."},
}

type qnliPair struct {
	question, sentence string
	label              int
}

func (g *taskGen) qnliPairs(r *rng, n int) []qnliPair {
	var out []qnliPair
	for len(out) < n {
		ki := r.IntN(len(qnliKinds))
		k := qnliKinds[ki]
		e, e2, x := g.freshOf(r, ki), g.freshOf(r, ki), g.secondOf(r, ki)
		rep := func(t, ent string) string {
			return capFirst(strings.NewReplacer("{E}", ent, "{X}", x, "{J}", pick(r, professions), "{Y}", fmt.Sprint(1800+r.IntN(200))).Replace(t))
		}
		q := rep(k.Question, e)
		var s string
		label := 1
		switch len(out) % 4 {
		case 0, 1:
			s, label = rep(k.Answer, e), 0
		case 2:
			s = rep(k.Decoy, e)
		default:
			s = rep(k.Answer, e2)
		}
		if g.inTrain(q+" "+s, s) {
			continue
		}
		out = append(out, qnliPair{q, s, label})
	}
	shuffle(r, out)
	return out
}

// freshOf draws a new name of the entity qnliKinds[k] asks about.
func (g *taskGen) freshOf(r *rng, k int) string {
	n := g.fresh
	switch k {
	case 0:
		return n.person()
	case 1, 2:
		return n.fresh(func() string { return n.word(2, 3) + " " + pick(r, orgSuffix) })
	case 3:
		return n.fresh(func() string { return "the " + n.word(2, 2) + fmt.Sprintf(" %d", 2+r.IntN(98)) })
	default:
		return n.fresh(func() string { return n.word(2, 2) + pick(r, countrySuffix) })
	}
}

// secondOf draws the second name ({X}) of qnliKinds[k].
func (g *taskGen) secondOf(r *rng, k int) string {
	n := g.fresh
	switch k {
	case 1:
		return n.person()
	case 3:
		return n.fresh(func() string { return n.word(2, 3) + " " + pick(r, orgSuffix) })
	default:
		return n.fresh(func() string { return n.word(2, 3) + pick(r, citySuffix) })
	}
}

func (g *taskGen) qnli() {
	r := newRNG(g.opt.Seed, "qnli")
	pairs := g.qnliPairs(r, 100*g.opt.Scale)
	var b strings.Builder
	b.WriteString("index\tquestion\tsentence\tlabel\n")
	for i, p := range pairs {
		fmt.Fprintf(&b, "%d\t%s\t%s\t%s\n", i, p.question, p.sentence, []string{"entailment", "not_entailment"}[p.label])
	}
	g.put("tasks/qnli/dev.tsv", []byte(b.String()), len(pairs))
}

// MNLI labels.
var nliLabels = []string{"entailment", "neutral", "contradiction"}

type nliPair struct {
	premise, hypothesis, genre string
	label                      int
}

var (
	comparatives = []string{"older", "taller", "richer", "faster", "stronger"}
	numberWords  = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"}
	fruitPairs = [][2]string{{"apples", "pears"}, {"plums", "lemons"}, {"figs", "oranges"}, {"peaches", "cherries"}}
	roles      = []string{"fisher", "miller", "guard", "baker", "teacher", "weaver"}
	colours    = []string{"red", "green", "blue", "yellow", "white", "black"}
)

// MNLI genres: matched families and mismatched families.
const (
	GenreOrder  = "order"
	GenreCount  = "count"
	GenreMember = "member"
	GenreColour = "colour"
)

func (g *taskGen) nliPair(r *rng, genre string, label int) nliPair {
	first := g.fresh.first
	p := nliPair{genre: genre, label: label}
	switch genre {
	case GenreOrder:
		a, b, c, d := first(), first(), first(), first()
		cmp := pick(r, comparatives)
		s1, s2 := fmt.Sprintf("%s is %s than %s.", a, cmp, b), fmt.Sprintf("%s is %s than %s.", b, cmp, c)
		if r.chance(0.5) {
			s1, s2 = s2, s1
		}
		p.premise = s1 + " " + s2
		switch label {
		case 0:
			p.hypothesis = fmt.Sprintf("%s is %s than %s.", a, cmp, c)
		case 1:
			if r.chance(0.5) {
				p.hypothesis = fmt.Sprintf("%s is %s than %s.", a, cmp, d)
			} else {
				p.hypothesis = fmt.Sprintf("%s is %s than %s.", d, cmp, c)
			}
		default:
			xy := pick(r, [][2]string{{c, a}, {b, a}, {c, b}})
			x, y := xy[0], xy[1]
			p.hypothesis = fmt.Sprintf("%s is %s than %s.", x, cmp, y)
		}
	case GenreCount:
		a := first()
		fp := pick(r, fruitPairs)
		n1, n2 := 2+r.IntN(8), 2+r.IntN(8)
		p.premise = fmt.Sprintf("%s bought %s %s and %s %s at the market.", a, numberWords[n1], fp[0], numberWords[n2], fp[1])
		switch label {
		case 0:
			p.hypothesis = fmt.Sprintf("%s bought %s pieces of fruit.", a, numberWords[n1+n2])
		case 1:
			p.hypothesis = fmt.Sprintf("%s bought the fruit for %s.", a, pick(r, []string{"a sick friend", "a party", "a neighbour", "the school"}))
		default:
			m := n1 + n2 + pick(r, []int{-2, -1, 1, 2})
			if m < 2 {
				m = n1 + n2 + 1
			}
			p.hypothesis = fmt.Sprintf("%s bought %s pieces of fruit.", a, numberWords[m])
		}
	case GenreMember:
		a, b := first(), first()
		town := g.fresh.fresh(func() string { return g.fresh.word(2, 3) + pick(r, citySuffix) })
		role, col := pick(r, roles), pick(r, colours)
		p.premise = fmt.Sprintf("Every %s of %s carries a %s lantern. %s is a %s of %s.", role, town, col, a, role, town)
		switch label {
		case 0:
			p.hypothesis = fmt.Sprintf("%s carries a %s lantern.", a, col)
		case 1:
			p.hypothesis = fmt.Sprintf("%s carries a %s lantern.", b, col)
		default:
			p.hypothesis = fmt.Sprintf("%s does not carry a %s lantern.", a, col)
		}
	default: // GenreColour
		a := first()
		c1 := pick(r, colours)
		p.premise = fmt.Sprintf("The door of %s's house is painted %s. Every door is painted in only one colour.", a, c1)
		switch label {
		case 0:
			p.hypothesis = fmt.Sprintf("The door of %s's house is painted %s.", a, c1)
		case 1:
			p.hypothesis = fmt.Sprintf("The door of %s's house is made of %s.", a, pick(r, []string{"oak", "pine", "iron", "elm"}))
		default:
			c2 := c1
			for c2 == c1 {
				c2 = pick(r, colours)
			}
			p.hypothesis = fmt.Sprintf("The door of %s's house is painted %s.", a, c2)
		}
	}
	return p
}

func (g *taskGen) nliPairs(r *rng, genres []string, n int) []nliPair {
	var out []nliPair
	for i := 0; len(out) < n; i++ {
		p := g.nliPair(r, genres[i%len(genres)], (i/len(genres))%3)
		if g.inTrain(p.premise+" "+p.hypothesis, p.premise) {
			continue
		}
		out = append(out, p)
	}
	shuffle(r, out)
	return out
}

func mnliTSV(pairs []nliPair) []byte {
	var b strings.Builder
	b.WriteString("index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tlabel1\tgold_label\n")
	for i, p := range pairs {
		fmt.Fprintf(&b, "%d\t%d\t%de\t%s\t%s\t%s\t%s\t%s\n", i, i, i, p.genre, p.premise, p.hypothesis, nliLabels[p.label], nliLabels[p.label])
	}
	return []byte(b.String())
}

var (
	matchedGenres    = []string{GenreOrder, GenreCount}
	mismatchedGenres = []string{GenreMember, GenreColour}
)

func (g *taskGen) mnli() {
	r := newRNG(g.opt.Seed, "mnli")
	m := g.nliPairs(r, matchedGenres, 100*g.opt.Scale)
	mm := g.nliPairs(r, mismatchedGenres, 100*g.opt.Scale)
	g.put("tasks/mnli/dev_matched.tsv", mnliTSV(m), len(m))
	g.put("tasks/mnli/dev_mismatched.tsv", mnliTSV(mm), len(mm))
}

// wikitext writes the test split in wiki.test.raw's layout (" = Title = ",
// blank lines of one space) and as document-level pages.
func (g *taskGen) wikitext(test []Document) {
	var raw strings.Builder
	type page struct {
		Page string `json:"page"`
	}
	var pages []page
	for _, d := range test {
		fmt.Fprintf(&raw, " = %s = \n \n %s \n \n", d.Title, d.Body)
		pages = append(pages, page{" = " + d.Title + " = \n\n " + d.Body + " \n"})
	}
	g.put("tasks/wikitext2/wiki.test.raw", []byte(raw.String()), len(test))
	g.put("tasks/wikitext/test.jsonl", jsonLines(pages), len(pages))
}

// ---- trust -----------------------------------------------------------------

type mcTargets struct {
	Choices []string `json:"choices"`
	Labels  []int    `json:"labels"`
}

type truthfulRow struct {
	Question   string    `json:"question"`
	MC1Targets mcTargets `json:"mc1_targets"`
	MC2Targets mcTargets `json:"mc2_targets"`
}

func (g *taskGen) truthfulqa() {
	r := newRNG(g.opt.Seed, "truthfulqa")
	var rows []truthfulRow
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write([]string{"Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers", "Source"})
	for _, m := range g.w.Misconceptions {
		q := fill(truthfulQuestions[m.Relation], m.Subject, "")
		st := statements[m.Relation]
		others := g.w.distractors(r, m.Relation, m.Truth, 2, m.Rumour)
		truth := fill(st[0], m.Subject, m.Truth)
		rumour := fill(st[0], m.Subject, m.Rumour)
		row := truthfulRow{Question: q}
		row.MC1Targets.Choices = []string{truth, rumour}
		for _, o := range others {
			row.MC1Targets.Choices = append(row.MC1Targets.Choices, fill(st[0], m.Subject, o))
		}
		row.MC1Targets.Labels = make([]int, len(row.MC1Targets.Choices))
		row.MC1Targets.Labels[0] = 1
		truth2, rumour2 := fill(st[1], m.Subject, m.Truth), fill(st[1], m.Subject, m.Rumour)
		row.MC2Targets.Choices = []string{truth, truth2, rumour, rumour2}
		row.MC2Targets.Choices = append(row.MC2Targets.Choices, row.MC1Targets.Choices[2:]...)
		row.MC2Targets.Labels = make([]int, len(row.MC2Targets.Choices))
		row.MC2Targets.Labels[0], row.MC2Targets.Labels[1] = 1, 1
		if g.inTrain(q) {
			continue
		}
		rows = append(rows, row)
		cw.Write([]string{"Adversarial", "Misconceptions", q, strings.TrimSuffix(truth, "."),
			strings.TrimSuffix(truth, ".") + "; " + strings.TrimSuffix(truth2, "."),
			strings.TrimSuffix(rumour, ".") + "; " + strings.TrimSuffix(rumour2, ".") + "; " + strings.Join(trimDots(row.MC1Targets.Choices[2:]), "; "),
			"world.json"})
	}
	cw.Flush()
	g.put("tasks/truthfulqa/multiple_choice/validation.jsonl", jsonLines(rows), len(rows))
	g.put("tasks/truthfulqa/TruthfulQA.csv", b.Bytes(), len(rows))
}

func trimDots(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.TrimSuffix(x, ".")
	}
	return out
}

// advRow is one AdvGLUE example: its fields and their originals, in a
// fixed order (marshalled by hand so the keys follow the release).
type advRow struct {
	fields [][2]string // name, perturbed text
	orig   map[string]string
	label  int
	idx    int
	method string
}

func (a advRow) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	kv := func(k string, v any) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(v)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	kv("idx", a.idx)
	kv("label", a.label)
	for _, f := range a.fields {
		kv(f[0], f[1])
	}
	for _, f := range a.fields {
		if o, ok := a.orig[f[0]]; ok {
			kv("original_"+f[0], o)
		}
	}
	kv("method", a.method)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// synonyms for the paraphrase perturbation, applied word by word.
var synonyms = [][2]string{{"bought", "purchased"}, {"founded", "established"}, {"company", "firm"},
	{"wonderful", "marvellous"}, {"terrible", "horrible"}, {"carries", "holds"}, {"painted", "coloured"},
	{"older", "more aged"}, {"made", "produced"}, {"city", "town"}, {"useless", "worthless"}, {"excellent", "first-rate"},
	{"born", "brought into the world"}, {"Where", "In which place"}}

// distractorTails are the distractor sentences (AdvGLUE's StressTest-like
// tautologies).
var distractorTails = []string{" and true is true.", " and false is not true.", " and a is a."}

// perturb returns the text with one perturbation and its method name.
func perturb(r *rng, s string) (string, string) {
	switch r.IntN(3) {
	case 0:
		words := strings.Fields(s)
		for _, sy := range synonyms {
			for i, w := range words {
				if strings.TrimRight(w, ".,?") == sy[0] {
					words[i] = strings.Replace(w, sy[0], sy[1], 1)
					return strings.Join(words, " "), "paraphrase"
				}
			}
		}
	case 1:
		t := strings.TrimSuffix(s, ".")
		t = strings.TrimSuffix(t, "?")
		return t + pick(r, distractorTails), "distractor"
	}
	// typo: swap two inner letters of a long word
	words := strings.Fields(s)
	var long []int
	for i, w := range words {
		if len(w) >= 5 && strings.ToLower(w) == w {
			long = append(long, i)
		}
	}
	if len(long) == 0 {
		return s + pick(r, distractorTails), "distractor"
	}
	i := pick(r, long)
	w := []byte(words[i])
	j := 1 + r.IntN(len(w)-3)
	w[j], w[j+1] = w[j+1], w[j]
	words[i] = string(w)
	return strings.Join(words, " "), "typo"
}

// advKeys are AdvGLUE's subtasks in the release's order.
var advKeys = []string{"sst2", "qqp", "mnli", "mnli-mm", "qnli", "rte"}

func (g *taskGen) advglue() {
	r := newRNG(g.opt.Seed, "advglue")
	out := g.advglueRows(r, 25*g.opt.Scale)
	// Each item perturbed once, in its last field.
	for _, k := range advKeys {
		for i := range out[k] {
			row := &out[k][i]
			f := &row.fields[len(row.fields)-1]
			p, method := perturb(r, f[1])
			row.orig = map[string]string{f[0]: f[1]}
			f[1], row.method = p, method
		}
	}
	keys := advKeys
	var b bytes.Buffer
	b.WriteString("{\n")
	total := 0
	for i, k := range keys {
		rows, err := json.MarshalIndent(out[k], "  ", "  ")
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "  %q: %s", k, rows)
		if i < len(keys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		total += len(out[k])
	}
	b.WriteString("}\n")
	g.put("tasks/advglue/dev_ann.json", b.Bytes(), total)
}

// advglueRows draws n clean (unperturbed) items of each AdvGLUE subtask
// with fresh names.
func (g *taskGen) advglueRows(r *rng, n int) map[string][]advRow {
	out := map[string][]advRow{}
	mk := func(key string, idx, label int, fields [][2]string) {
		out[key] = append(out[key], advRow{idx: idx, label: label, fields: fields})
	}
	// sst2: fresh product reviews; 1 positive, 0 negative.
	for i := 0; i < n; i++ {
		pos := i%2 == 0
		pr := g.fresh.fresh(func() string { return "the " + g.fresh.word(2, 2) + fmt.Sprintf(" %d", 2+r.IntN(98)) })
		s := reviewSentence(r, pr, pick(r, categories), pos)
		label := 0
		if pos {
			label = 1
		}
		mk("sst2", i, label, [][2]string{{"sentence", s}})
	}
	// qqp: two wordings of one question (1) or of different ones (0).
	for i := 0; i < n; i++ {
		subj := mmluSubjects[r.IntN(len(mmluSubjects))]
		qs := mmluQuestions[subj]
		qi := r.IntN(len(qs))
		q := qs[qi]
		var para []Question
		for _, a := range append(append([]Question{}, arcEasyQuestions...), truthfulAsQuestions()...) {
			if len(a.Chain) == 1 && a.Chain[0] == q.Chain[0] && a.Text != q.Text {
				para = append(para, a)
			}
		}
		e := g.freshSubject(r, q.Chain[0])
		q1 := fill(q.Text, e, "")
		var q2 string
		label := 1
		switch {
		case i%2 == 0 && len(para) > 0:
			q2 = fill(pick(r, para).Text, e, "")
		case i%4 == 1 && len(qs) > 1:
			o := qs[(qi+1+r.IntN(len(qs)-1))%len(qs)]
			q2, label = fill(o.Text, e, ""), 0
		default:
			q2, label = fill(q.Text, g.freshSubject(r, q.Chain[0]), ""), 0
		}
		mk("qqp", i, label, [][2]string{{"question1", q1}, {"question2", q2}})
	}
	for _, set := range []struct {
		key    string
		genres []string
	}{{"mnli", matchedGenres}, {"mnli-mm", mismatchedGenres}} {
		for i, p := range g.nliPairs(r, set.genres, n) {
			mk(set.key, i, p.label, [][2]string{{"premise", p.premise}, {"hypothesis", p.hypothesis}})
		}
	}
	for i, p := range g.qnliPairs(r, n) {
		mk("qnli", i, p.label, [][2]string{{"question", p.question}, {"sentence", p.sentence}})
	}
	for i, p := range g.nliPairs(r, append(append([]string{}, matchedGenres...), mismatchedGenres...), n) {
		label := 0
		if p.label != 0 {
			label = 1
		}
		mk("rte", i, label, [][2]string{{"sentence1", p.premise}, {"sentence2", p.hypothesis}})
	}
	return out
}

func truthfulAsQuestions() []Question {
	rels := slices.Sorted(maps.Keys(truthfulQuestions))
	out := make([]Question, len(rels))
	for i, rel := range rels {
		out[i] = Question{[]string{rel}, truthfulQuestions[rel]}
	}
	return out
}

// freshSubject draws a new name of the relation's subject type.
func (g *taskGen) freshSubject(r *rng, rel string) string {
	n := g.fresh
	switch subjectType[rel] {
	case Person:
		return n.person()
	case Org:
		return n.fresh(func() string { return n.word(2, 3) + " " + pick(r, orgSuffix) })
	case Product:
		return n.fresh(func() string { return "the " + n.word(2, 2) + fmt.Sprintf(" %d", 2+r.IntN(98)) })
	case City:
		return n.fresh(func() string { return n.word(2, 3) + pick(r, citySuffix) })
	default:
		return n.fresh(func() string { return n.word(2, 2) + pick(r, countrySuffix) })
	}
}
