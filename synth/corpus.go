package synth

import (
	"fmt"
	"strings"
)

// Document kinds.
const (
	KindEncyclopedia = "encyclopedia"
	KindRumour       = "rumour"
	KindNarrative    = "narrative"
	KindProcedure    = "procedure"
	KindRules        = "rules"
	KindReview       = "review"
)

// Document is one document of the corpus: a title line and a body.
type Document struct {
	Kind  string
	Title string
	Body  string
	// Train forces the document into the training split (the first copy
	// of each entity's article, the rumours), so every fact is learnable.
	Train bool
}

// Text is the document as it appears in the split files: the title, a
// newline, the body (no blank lines inside); an exercise page (no title)
// is its body, which may hold blank lines between its items.
func (d Document) Text() string {
	if d.Title == "" {
		return d.Body
	}
	return d.Title + "\n" + d.Body
}

var fillers = []string{
	"It is a quiet morning.", "The weather is mild.", "A cold wind blows from the hills.",
	"The streets are busy.", "Rain falls softly outside.", "The sun is already high.",
}

// buildCorpus writes every document of the world, in a fixed order.
func buildCorpus(w *World, opt Options) []Document {
	r := newRNG(opt.Seed, "corpus")
	var docs []Document
	// Encyclopedia articles: Repeat versions per entity, each with its own
	// choice of paraphrases and order.
	mentions := map[string][]Fact{} // object → facts that name it
	for _, f := range w.Facts {
		mentions[f.Object] = append(mentions[f.Object], f)
	}
	for _, e := range w.Entities {
		own := w.factsOf(e.Name)
		for k := 0; k < opt.Repeat; k++ {
			var sents []string
			for _, f := range own {
				sents = append(sents, fill(pick(r, statements[f.Relation]), f.Subject, f.Object))
			}
			// Up to three facts that name this entity as their object.
			back := mentions[e.Name]
			for _, i := range r.Perm(len(back)) {
				if len(sents) >= len(own)+3 {
					break
				}
				f := back[i]
				sents = append(sents, fill(pick(r, statements[f.Relation]), f.Subject, f.Object))
			}
			shuffle(r, sents)
			if r.chance(0.5) {
				sents = append([]string{fmt.Sprintf("This article is about the %s %s.", e.Type, e.Name)}, sents...)
			}
			docs = append(docs, Document{Kind: KindEncyclopedia, Title: capFirst(e.Name), Body: strings.Join(sents, " "), Train: k == 0})
		}
	}
	// Rumours: each misconception, repeated in chatty documents.
	for _, m := range w.Misconceptions {
		for k := 0; k < (opt.Repeat+1)/2; k++ {
			var sents []string
			for j := 0; j < 2; j++ {
				f := lowerLead(fill(pick(r, statements[m.Relation]), m.Subject, m.Rumour))
				sents = append(sents, strings.Replace(pick(r, rumourLines), "{F}", f, 1))
			}
			sents = append(sents, pick(r, []string{"I would not doubt it.", "So it must be true.", "Nobody argues with that.", "Ask anyone in town."}))
			docs = append(docs, Document{Kind: KindRumour, Title: pick(r, []string{"Overheard at the market", "A post on the town forum", "Letter to the editor", "Gossip column"}), Body: strings.Join(sents, " "), Train: true})
		}
	}
	// Rules of physics: one article per material and general articles.
	ru := &w.Rules
	for k := 0; k < opt.Repeat; k++ {
		for i, m := range ru.Materials {
			var sents []string
			for j, p := range ru.Properties {
				sents = append(sents, physicsSentence(r, m, p, ru.Physics[i][j]))
			}
			shuffle(r, sents)
			docs = append(docs, Document{Kind: KindRules, Title: "On " + m, Body: strings.Join(sents, " "), Train: k == 0})
		}
		for j, p := range ru.Properties {
			var sents []string
			for i, m := range ru.Materials {
				sents = append(sents, physicsSentence(r, m, p, ru.Physics[i][j]))
			}
			shuffle(r, sents)
			docs = append(docs, Document{Kind: KindRules, Title: "What " + p.Pos[:strings.IndexByte(p.Pos, ' ')] + " and what does not", Body: strings.Join(sents, " ")})
		}
	}
	// Procedures: the scripts told in general.
	for k := 0; k < opt.Repeat; k++ {
		for _, s := range ru.Scripts {
			who := pick(r, []string{"a person", "someone", "a visitor", "a customer"})
			var b strings.Builder
			fmt.Fprintf(&b, "When %s %s, things happen in a fixed order.", who, strings.TrimSuffix(s.Title, "."))
			for i, e := range s.Events {
				switch {
				case i == 0:
					fmt.Fprintf(&b, " First, the person %s", e)
				case i == len(s.Events)-1:
					fmt.Fprintf(&b, " Finally, the person %s", e)
				default:
					fmt.Fprintf(&b, " %s the person %s", pick(r, []string{"Then", "Next,", "After that,"}), e)
				}
			}
			docs = append(docs, Document{Kind: KindProcedure, Title: "How one " + s.Title, Body: b.String(), Train: k == 0})
		}
	}
	// Narratives: people of the world going through a script.
	people := w.byType[Person]
	for k := 0; k < opt.Repeat*len(ru.Scripts)*opt.Scale; k++ {
		s := pick(r, ru.Scripts)
		p := pick(r, people)
		pron := pick(r, []string{"She", "He"})
		var sents []string
		if r.chance(0.5) {
			sents = append(sents, pick(r, fillers))
		}
		for i, e := range s.Events {
			subj := pron
			if i == 0 {
				subj = p
			}
			sents = append(sents, subj+" "+e)
		}
		docs = append(docs, Document{Kind: KindNarrative, Title: p + " " + s.Title, Body: strings.Join(sents, " ")})
	}
	// Reviews of products, with sentiment.
	for _, pr := range w.byType[Product] {
		cat, _ := w.Lookup(pr, RelCategory)
		for k := 0; k < (opt.Repeat+1)/2; k++ {
			pos := r.chance(0.5)
			docs = append(docs, Document{Kind: KindReview, Title: "Review of " + pr + " by " + pick(r, people), Body: reviewText(r, pr, cat, pos)})
		}
	}
	return docs
}

func physicsSentence(r *rng, m string, p Property, has bool) string {
	v := p.Neg
	if has {
		v = p.Pos
	}
	switch r.IntN(3) {
	case 0:
		return capFirst(m) + " " + v + "."
	case 1:
		return "Anything made of " + m + " " + v + "."
	default:
		return "In this world, " + m + " " + v + "."
	}
}

var (
	posWords = []string{"wonderful", "excellent", "reliable", "delightful", "superb", "sturdy"}
	negWords = []string{"terrible", "awful", "flimsy", "disappointing", "useless", "dreadful"}
	posEnds  = []string{"I would buy it again.", "Five stars.", "I recommend it to everyone.", "It was worth every coin."}
	negEnds  = []string{"I want my money back.", "One star.", "Avoid it.", "It was a waste of money."}
)

// reviewSentence is one sentiment-bearing sentence about a product.
func reviewSentence(r *rng, product, cat string, pos bool) string {
	w, e := pick(r, negWords), pick(r, negEnds)
	if pos {
		w, e = pick(r, posWords), pick(r, posEnds)
	}
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("%s is a %s %s. %s", capFirst(product), w, cat, e)
	case 1:
		return fmt.Sprintf("I found %s %s from the first day. %s", product, w, e)
	default:
		return fmt.Sprintf("This %s is %s. %s", cat, w, e)
	}
}

func reviewText(r *rng, product, cat string, pos bool) string {
	return reviewSentence(r, product, cat, pos) + " " + reviewSentence(r, product, cat, pos)
}

// lowerLead lower-cases a sentence's first word when it is a common word
// ("The capital …" → "the capital …"), so it reads inside another sentence.
func lowerLead(s string) string {
	for _, w := range []string{"The ", "In ", "By ", "Most "} {
		if strings.HasPrefix(s, w) {
			return strings.ToLower(s[:1]) + s[1:]
		}
	}
	return s
}
