package synth

import (
	"fmt"
	"strings"
)

// Entity types.
const (
	Country = "country"
	City    = "city"
	Person  = "person"
	Org     = "organisation"
	Product = "product"
)

// Relations: each maps a subject to exactly one object.
const (
	RelCapital     = "capital"      // country → city
	RelCountry     = "country"      // city → country
	RelLanguage    = "language"     // country → language
	RelBornIn      = "born_in"      // person → city
	RelBirthYear   = "birth_year"   // person → year
	RelProfession  = "profession"   // person → profession
	RelFounder     = "founder"      // organisation → person
	RelHeadquarter = "headquarters" // organisation → city
	RelFoundedYear = "founded_year" // organisation → year
	RelIndustry    = "industry"     // organisation → industry
	RelMaker       = "maker"        // product → organisation
	RelReleaseYear = "release_year" // product → year
	RelCategory    = "category"     // product → category
)

// Entity is one named thing of the world.
type Entity struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Fact is one relation of the world: Relation(Subject) = Object (names).
type Fact struct {
	Subject  string `json:"subject"`
	Relation string `json:"relation"`
	Object   string `json:"object"`
	// Quiz marks the fact's subject as in its relation's quiz part: the
	// training split quizzes it in the tasks' formats, and no knowledge
	// task asks it (see splitQuiz).
	Quiz bool `json:"quiz,omitempty"`
}

// Misconception is a fact whose false Rumour is repeated in rumour-style
// documents while the Truth (the world's fact) is in the encyclopedia.
type Misconception struct {
	Subject  string `json:"subject"`
	Relation string `json:"relation"`
	Truth    string `json:"truth"`
	Rumour   string `json:"rumour"`
}

// Property is a physical property a material has or lacks, with the
// phrases the corpus and the tasks use for it.
type Property struct {
	Name string `json:"name"`
	// Pos and Neg complete "Iron ..." ("floats on water" / "sinks in water").
	Pos string `json:"pos"`
	Neg string `json:"neg"`
	// Situation completes "When both bowls ..." (winogrande).
	Situation string `json:"situation"`
	// OutcomePos and OutcomeNeg are the verbs of the outcome ("floats" / "sinks").
	OutcomePos string `json:"outcome_pos"`
	OutcomeNeg string `json:"outcome_neg"`
}

// Goal is a purpose (piqa) that needs a material with (Want) or without
// (!Want) a property; Solution is the procedure with "{M}" for the material.
type Goal struct {
	Goal     string `json:"goal"`
	Property string `json:"property"`
	Want     bool   `json:"want"`
	Solution string `json:"solution"`
}

// Script is an everyday procedure: events in their typical order, each a
// third-person verb phrase ("buys a ticket at the station.").
type Script struct {
	Name   string   `json:"name"`
	Title  string   `json:"title"`
	Events []string `json:"events"`
}

// Rules are the world's general rules: its physics, its purposes and its
// scripts. Inference tasks are answerable from their own context and these.
type Rules struct {
	Materials  []string   `json:"materials"`
	Properties []Property `json:"properties"`
	// Physics[m][p] says whether Materials[m] has Properties[p].
	Physics [][]bool `json:"physics"`
	Goals   []Goal   `json:"goals"`
	Scripts []Script `json:"scripts"`
}

// World is everything the generator decided: world.json.
type World struct {
	Generator      string          `json:"generator"`
	Seed           uint64          `json:"seed"`
	Scale          int             `json:"scale"`
	Repeat         int             `json:"repeat"`
	Entities       []Entity        `json:"entities"`
	Facts          []Fact          `json:"facts"`
	Misconceptions []Misconception `json:"misconceptions"`
	Rules          Rules           `json:"rules"`

	index  map[string]map[string]string // subject → relation → object
	types  map[string]string            // name → type
	byType map[string][]string          // type → names, in creation order
	quiz   map[[2]string]bool           // (subject, relation) of quiz-part facts
	// quizObjects lists, per relation, the object of every quiz-part fact
	// (repeats kept): the answers the exercise documents show.
	quizObjects map[string][]string
}

// Lookup returns Relation(subject).
func (w *World) Lookup(subject, relation string) (string, bool) {
	o, ok := w.index[subject][relation]
	return o, ok
}

// IsQuiz reports whether relation(subject) is in the quiz part: stated in
// the training split's exercise documents and never asked by a task.
func (w *World) IsQuiz(subject, relation string) bool { return w.quiz[[2]string{subject, relation}] }

// TypeOf returns the type of the entity or value name ("" if unknown).
func (w *World) TypeOf(name string) string { return w.types[name] }

// Reindex rebuilds the lookup tables after World is read from JSON.
func (w *World) Reindex() {
	w.index = map[string]map[string]string{}
	w.types = map[string]string{}
	w.byType = map[string][]string{}
	w.quiz = map[[2]string]bool{}
	for _, e := range w.Entities {
		w.types[e.Name] = e.Type
		w.byType[e.Type] = append(w.byType[e.Type], e.Name)
	}
	for _, f := range w.Facts {
		if w.index[f.Subject] == nil {
			w.index[f.Subject] = map[string]string{}
		}
		w.index[f.Subject][f.Relation] = f.Object
		if f.Quiz {
			w.quiz[[2]string{f.Subject, f.Relation}] = true
		}
	}
	w.indexQuizObjects()
}

// PropertyOf says whether material has property (by name).
func (r *Rules) PropertyOf(material, property string) (bool, bool) {
	for i, m := range r.Materials {
		if m != material {
			continue
		}
		for j, p := range r.Properties {
			if p.Name == property {
				return r.Physics[i][j], true
			}
		}
	}
	return false, false
}

// objectType is the type of a relation's objects; values that are not
// entities (years, professions, …) have their own pseudo-types.
var objectType = map[string]string{
	RelCapital: City, RelCountry: Country, RelLanguage: "language",
	RelBornIn: City, RelBirthYear: "year", RelProfession: "profession",
	RelFounder: Person, RelHeadquarter: City, RelFoundedYear: "year", RelIndustry: "industry",
	RelMaker: Org, RelReleaseYear: "year", RelCategory: "category",
}

var (
	professions = []string{"baker", "carpenter", "weaver", "astronomer", "physician", "sailor", "painter",
		"engineer", "teacher", "merchant", "poet", "architect", "miner", "chemist", "judge", "glassblower"}
	industries = []string{"shipbuilding", "textiles", "clockmaking", "printing", "brewing", "mining",
		"glassware", "farm machinery", "pottery", "optics", "toys", "bicycles"}
	categories = []string{"kettle", "bicycle", "lamp", "clock", "radio", "sewing machine", "telescope",
		"typewriter", "stove", "camera", "violin", "wheelbarrow"}
	syllables = []string{"ka", "lo", "mi", "ra", "ven", "tor", "bel", "dra", "su", "nor", "vik", "el",
		"an", "ta", "ri", "os", "mar", "quin", "do", "zel", "fa", "gor", "hul", "ish", "jo", "ke", "lun",
		"pe", "sar", "thu", "ul", "wen", "ya", "bri", "cor", "dun", "esk", "fen", "gal", "har"}
	countrySuffix = []string{"ia", "land", "ora", "mark", "istan", "eth"}
	citySuffix    = []string{"", "", "burg", "ford", "port", "holm", "ton", "vale"}
	orgSuffix     = []string{"Works", "Foundry", "Company", "Mills", "Trading House", "Guild", "Manufactory", "Brothers"}
)

// namer draws unique capitalised names.
type namer struct {
	r    *rng
	used map[string]bool
}

func (n *namer) word(minSyl, maxSyl int) string {
	k := minSyl + n.r.IntN(maxSyl-minSyl+1)
	var b strings.Builder
	for i := 0; i < k; i++ {
		b.WriteString(pick(n.r, syllables))
	}
	s := b.String()
	return strings.ToUpper(s[:1]) + s[1:]
}

// fresh draws names from gen until one is unused, and marks it used.
func (n *namer) fresh(gen func() string) string {
	for {
		s := gen()
		if !n.used[s] && !n.used[strings.ToLower(s)] {
			n.used[s] = true
			return s
		}
	}
}

func (n *namer) person() string {
	return n.fresh(func() string { return n.word(2, 2) + " " + n.word(2, 3) })
}

// first draws a fresh first name and marks it used (two or three
// syllables: inference items use one per person, and every item's names
// differ from every other's).
func (n *namer) first() string {
	return n.fresh(func() string { return n.word(2, 3) })
}

// buildWorld draws the entities, their facts and the world's rules.
func buildWorld(opt Options) *World {
	r := newRNG(opt.Seed, "world")
	nm := &namer{r: r, used: map[string]bool{}}
	for _, s := range append(append(append([]string{}, professions...), industries...), categories...) {
		nm.used[s] = true
	}
	w := &World{Generator: Version, Seed: opt.Seed, Scale: opt.Scale, Repeat: opt.Repeat}
	add := func(typ, name string) string {
		w.Entities = append(w.Entities, Entity{Name: name, Type: typ})
		return name
	}
	fact := func(s, rel, o string) { w.Facts = append(w.Facts, Fact{Subject: s, Relation: rel, Object: o}) }

	nCountries := 6 * opt.Scale
	var languages []string
	var countries, cities []string
	for i := 0; i < nCountries; i++ {
		c := add(Country, nm.fresh(func() string { return nm.word(2, 2) + pick(r, countrySuffix) }))
		countries = append(countries, c)
		languages = append(languages, nm.fresh(func() string { return nm.word(2, 2) + "ish" }))
	}
	for i, c := range countries {
		fact(c, RelLanguage, languages[i])
		for j := 0; j < 3; j++ {
			city := add(City, nm.fresh(func() string { return nm.word(2, 3) + pick(r, citySuffix) }))
			cities = append(cities, city)
			fact(city, RelCountry, c)
			if j == 0 {
				fact(c, RelCapital, city)
			}
		}
	}
	var people []string
	for i := 0; i < 30*opt.Scale; i++ {
		p := add(Person, nm.person())
		people = append(people, p)
		fact(p, RelBornIn, pick(r, cities))
		fact(p, RelBirthYear, fmt.Sprint(1700+r.IntN(200)))
		fact(p, RelProfession, pick(r, professions))
	}
	var orgs []string
	founders := append([]string{}, people...)
	shuffle(r, founders)
	for i := 0; i < 10*opt.Scale; i++ {
		o := add(Org, nm.fresh(func() string { return nm.word(2, 3) + " " + pick(r, orgSuffix) }))
		orgs = append(orgs, o)
		fact(o, RelFounder, founders[i%len(founders)])
		fact(o, RelHeadquarter, pick(r, cities))
		fact(o, RelFoundedYear, fmt.Sprint(1800+r.IntN(150)))
		fact(o, RelIndustry, pick(r, industries))
	}
	for i := 0; i < 20*opt.Scale; i++ {
		p := add(Product, nm.fresh(func() string { return "the " + nm.word(2, 2) + fmt.Sprintf(" %d", 2+r.IntN(98)) }))
		fact(p, RelMaker, pick(r, orgs))
		fact(p, RelReleaseYear, fmt.Sprint(1860+r.IntN(120)))
		fact(p, RelCategory, pick(r, categories))
	}
	w.Reindex()
	for _, s := range professions {
		w.types[s] = "profession"
	}
	for _, s := range industries {
		w.types[s] = "industry"
	}
	for _, s := range categories {
		w.types[s] = "category"
	}
	for _, l := range languages {
		w.types[l] = "language"
		w.byType["language"] = append(w.byType["language"], l)
	}
	w.byType["profession"], w.byType["industry"], w.byType["category"] = professions, industries, categories

	// Misconceptions: a few facts whose rumour differs from the truth.
	rels := []string{RelCapital, RelBornIn, RelFounder, RelMaker, RelHeadquarter, RelLanguage}
	cand := make([]Fact, 0, len(w.Facts))
	for _, f := range w.Facts {
		for _, rel := range rels {
			if f.Relation == rel {
				cand = append(cand, f)
			}
		}
	}
	shuffle(r, cand)
	nMis := 10 * opt.Scale
	for _, f := range cand {
		if len(w.Misconceptions) == nMis {
			break
		}
		if w.isMisconception(f.Subject, f.Relation) {
			continue
		}
		wrong := w.distractors(r, f.Relation, f.Object, 1)[0]
		w.Misconceptions = append(w.Misconceptions, Misconception{Subject: f.Subject, Relation: f.Relation, Truth: f.Object, Rumour: wrong})
	}
	w.Rules = buildRules(r)
	w.splitQuiz(newRNG(opt.Seed, "quiz split"))
	return w
}

// quizFrac is the share of each relation's facts in the quiz part.
const quizFrac = 0.5

// splitQuiz splits each relation's facts into a quiz part (quizFrac of
// them, drawn by r) and a test part. Facts with a misconception are always
// in the test part (TruthfulQA asks them).
func (w *World) splitQuiz(r *rng) {
	byRel := map[string][]int{}
	var rels []string
	for i, f := range w.Facts {
		if _, ok := byRel[f.Relation]; !ok {
			rels = append(rels, f.Relation)
		}
		byRel[f.Relation] = append(byRel[f.Relation], i)
	}
	for _, rel := range rels {
		idx := byRel[rel]
		shuffle(r, idx)
		n := int(float64(len(idx)) * quizFrac)
		for _, i := range idx {
			if n == 0 {
				break
			}
			f := &w.Facts[i]
			if w.isMisconception(f.Subject, f.Relation) {
				continue
			}
			f.Quiz = true
			w.quiz[[2]string{f.Subject, f.Relation}] = true
			n--
		}
	}
	w.indexQuizObjects()
}

// indexQuizObjects fills quizObjects from the facts marked Quiz, in the
// order of Facts.
func (w *World) indexQuizObjects() {
	w.quizObjects = map[string][]string{}
	for _, f := range w.Facts {
		if f.Quiz {
			w.quizObjects[f.Relation] = append(w.quizObjects[f.Relation], f.Object)
		}
	}
}

// isMisconception reports whether relation(subject) has a rumour.
func (w *World) isMisconception(subject, relation string) bool {
	for _, m := range w.Misconceptions {
		if m.Subject == subject && m.Relation == relation {
			return true
		}
	}
	return false
}

// answerDistractors draws up to k wrong answers to a question whose final
// relation is relation and whose answer is truth: objects of other
// quiz-part facts of that relation, drawn as often as the exercise
// documents show each as an answer, so that how often a value is an
// answer in training tells nothing about whether it is one in a task
// (uniform draws from the type taught a tiny model that values which only
// test facts have are never right: below-chance MMLU). Distractors
// still missing come from distractors.
func (w *World) answerDistractors(r *rng, relation, truth string, k int, avoid ...string) []string {
	seen := avoided(truth, avoid)
	out := drawDistinct(r, w.quizObjects[relation], k, seen)
	if len(out) < k {
		out = append(out, drawDistinct(r, w.valuePool(relation, truth), k-len(out), seen)...)
	}
	return out
}

// distractors returns k distinct values of the relation's object type,
// none equal to any of avoid.
func (w *World) distractors(r *rng, relation, truth string, k int, avoid ...string) []string {
	return drawDistinct(r, w.valuePool(relation, truth), k, avoided(truth, avoid))
}

// valuePool is every value a wrong answer to relation could take: the
// years within 40 of truth (steps of 3) for a year, else every entity of
// the object's type.
func (w *World) valuePool(relation, truth string) []string {
	typ := objectType[relation]
	if typ != "year" {
		return w.byType[typ]
	}
	t := 0
	fmt.Sscan(truth, &t)
	var pool []string
	for d := -40; d <= 40; d++ {
		if d != 0 && d%3 == 0 {
			pool = append(pool, fmt.Sprint(t+d))
		}
	}
	return pool
}

// avoided is the set of truth and avoid.
func avoided(truth string, avoid []string) map[string]bool {
	seen := map[string]bool{truth: true}
	for _, a := range avoid {
		seen[a] = true
	}
	return seen
}

// drawDistinct draws up to k values of pool in an order drawn by r,
// skipping and then marking those in seen.
func drawDistinct(r *rng, pool []string, k int, seen map[string]bool) []string {
	out := make([]string, 0, k)
	for _, i := range r.Perm(len(pool)) {
		if len(out) == k {
			break
		}
		if !seen[pool[i]] {
			seen[pool[i]] = true
			out = append(out, pool[i])
		}
	}
	return out
}

// facts of a subject, in the order they were created.
func (w *World) factsOf(subject string) []Fact {
	var out []Fact
	for _, f := range w.Facts {
		if f.Subject == subject {
			out = append(out, f)
		}
	}
	return out
}

var (
	materials  = []string{"iron", "wood", "glass", "stone", "copper", "wool", "clay", "paper", "wax", "bone", "tin", "amber"}
	properties = []Property{
		{Name: "floats", Pos: "floats on water", Neg: "sinks in water", Situation: "fall into the lake", OutcomePos: "floats", OutcomeNeg: "sinks"},
		{Name: "burns", Pos: "burns in a fire", Neg: "does not burn in a fire", Situation: "are thrown into the fire", OutcomePos: "burns", OutcomeNeg: "stays whole"},
		{Name: "shatters", Pos: "shatters when it is dropped", Neg: "does not break when it is dropped", Situation: "fall off the table", OutcomePos: "shatters", OutcomeNeg: "survives"},
		{Name: "melts", Pos: "melts in the summer sun", Neg: "stays hard in the summer sun", Situation: "are left out in the summer sun", OutcomePos: "melts", OutcomeNeg: "keeps its shape"},
		{Name: "rusts", Pos: "rusts in the rain", Neg: "does not rust in the rain", Situation: "are left out in the rain", OutcomePos: "rusts", OutcomeNeg: "stays bright"},
	}
	goals = []Goal{
		{Goal: "To build a raft that carries you across the lake", Property: "floats", Want: true, Solution: "Build the raft from planks of {M}."},
		{Goal: "To make an anchor that holds a boat in place", Property: "floats", Want: false, Solution: "Make the anchor from a block of {M}."},
		{Goal: "To light a fire for cooking dinner", Property: "burns", Want: true, Solution: "Gather pieces of {M} and light them."},
		{Goal: "To build a chimney that will not catch fire", Property: "burns", Want: false, Solution: "Build the chimney from {M}."},
		{Goal: "To make a cup that a small child can drop safely", Property: "shatters", Want: false, Solution: "Make the cup from {M}."},
		{Goal: "To make a window pane that breaks easily in an emergency", Property: "shatters", Want: true, Solution: "Make the pane from {M}."},
		{Goal: "To build a garden shed that lasts through the summer", Property: "melts", Want: false, Solution: "Build the shed from {M}."},
		{Goal: "To make a statue that vanishes by the end of summer", Property: "melts", Want: true, Solution: "Carve the statue from {M}."},
		{Goal: "To make a gate that stays outside in the rain for years", Property: "rusts", Want: false, Solution: "Make the gate from {M}."},
		{Goal: "To make a sign that turns red and flaky in wet weather", Property: "rusts", Want: true, Solution: "Make the sign from {M}."},
	}
	scripts = []Script{
		{Name: "restaurant", Title: "goes to a restaurant", Events: []string{"walks into the restaurant.", "sits down at a table by the window.", "reads the menu.", "orders a bowl of soup from the waiter.", "eats the soup slowly.", "asks the waiter for the bill.", "pays the bill and leaves a tip.", "walks out of the restaurant."}},
		{Name: "train", Title: "takes the train", Events: []string{"arrives at the railway station.", "buys a ticket at the counter.", "waits on the platform.", "boards the train when it stops.", "finds a free seat in the carriage.", "shows the ticket to the conductor.", "looks out of the window at the fields.", "gets off the train at the last stop."}},
		{Name: "bread", Title: "bakes bread", Events: []string{"mixes flour, water and yeast in a bowl.", "kneads the dough on the table.", "leaves the dough to rise under a cloth.", "shapes the dough into a loaf.", "puts the loaf into the hot oven.", "takes the golden loaf out of the oven.", "lets the bread cool on a rack.", "cuts the bread into slices."}},
		{Name: "doctor", Title: "visits the doctor", Events: []string{"calls the clinic to make an appointment.", "walks to the clinic in the morning.", "gives their name at the front desk.", "waits in the waiting room.", "is called into the doctor's room.", "describes the pain to the doctor.", "receives a prescription from the doctor.", "collects the medicine at the pharmacy."}},
		{Name: "letter", Title: "sends a letter", Events: []string{"takes a sheet of paper from the drawer.", "writes the letter with a pen.", "folds the letter in three.", "puts the letter into an envelope.", "writes the address on the envelope.", "sticks a stamp on the corner.", "carries the envelope to the post office.", "drops the letter into the post box."}},
		{Name: "garden", Title: "plants a garden", Events: []string{"buys seeds at the market.", "digs the soil with a spade.", "pulls out the weeds.", "sows the seeds in straight rows.", "covers the seeds with soil.", "waters the rows with a can.", "waits for the first green shoots.", "picks the ripe vegetables."}},
		{Name: "library", Title: "borrows a book", Events: []string{"enters the quiet library.", "searches the catalogue for a book.", "finds the book on a high shelf.", "takes the book to the desk.", "shows a library card to the librarian.", "gets the book stamped with a date.", "reads the book at home.", "returns the book before the date."}},
		{Name: "haircut", Title: "gets a haircut", Events: []string{"walks into the barber's shop.", "waits for a free chair.", "sits down in the barber's chair.", "tells the barber how short to cut.", "keeps still while the barber cuts.", "looks at the new haircut in the mirror.", "pays the barber.", "leaves the shop with short hair."}},
	}
)

// buildRules assigns each material its properties (the world's physics,
// which need not be ours): every property is held by some materials and
// lacked by others.
func buildRules(r *rng) Rules {
	ru := Rules{Materials: materials, Properties: properties, Goals: goals, Scripts: scripts}
	ru.Physics = make([][]bool, len(materials))
	for i := range ru.Physics {
		ru.Physics[i] = make([]bool, len(properties))
	}
	for j := range properties {
		perm := r.Perm(len(materials))
		k := 4 + r.IntN(len(materials)-7) // 4 … len-4 have the property
		for n, i := range perm {
			ru.Physics[i][j] = n < k
		}
	}
	return ru
}
