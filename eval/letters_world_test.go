package eval

import (
	"bytes"
	"context"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/synth"
	"github.com/llmcbench/gollm/tokenizer"
	"github.com/llmcbench/gollm/tokenizer/bpetrain"
)

// fixedLM gives the same logits at every position.
type fixedLM struct{ logits []float32 }

func (m *fixedLM) VocabSize() int    { return len(m.logits) }
func (m *fixedLM) MaxContext() int   { return 1 << 16 }
func (m *fixedLM) NewState() State   { return &fixedState{m: m} }
func (s *fixedState) Len() int       { return s.n }
func (s *fixedState) Truncate(n int) { s.n = min(s.n, n) }

type fixedState struct {
	m *fixedLM
	n int
}

func (s *fixedState) Append(ids []int) ([]float32, error) {
	out := make([]float32, 0, len(ids)*len(s.m.logits))
	for range ids {
		out = append(out, s.m.logits...)
	}
	s.n += len(ids)
	return out, nil
}

// prefixSpaceWorld generates a small world into a temporary folder and
// trains a 1024-token prefix-space tokenizer on its training split.
func prefixSpaceWorld(t *testing.T) (train []byte, dir string, tok *tokenizer.Tokenizer) {
	t.Helper()
	o, err := synth.Generate(synth.Options{Seed: 1, Scale: 1, Repeat: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := o.Write(dir); err != nil {
		t.Fatal(err)
	}
	train = o.File("corpus/train.txt").Data
	c := bpetrain.NewCorpus(bpetrain.CorpusOptions{AddPrefixSpace: true})
	if err := c.Add("train.txt", bytes.NewReader(train)); err != nil {
		t.Fatal(err)
	}
	m, err := bpetrain.Train(context.Background(), c, bpetrain.Options{VocabSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err = m.Tokenizer(); err != nil {
		t.Fatal(err)
	}
	return train, dir, tok
}

// TestAdvGLUEExercisesEndInTheScoredToken: LLMCBench's AdvGLUE prompt ends
// in "Answer: " and eval scores the letter's token after it; the world's
// AdvGLUE training exercises encode as exactly that prompt followed by
// that token, so a model trained on them has seen the scored sequence.
func TestAdvGLUEExercisesEndInTheScoredToken(t *testing.T) {
	train, _, tok := prefixSpaceWorld(t)
	re := regexp.MustCompile(`(?m)^Please identify [^\n]*\n(?:[^\n]+\n)*?Answer: {1,2}([AB])\. `)
	found := re.FindAllSubmatchIndex(train, -1)
	if len(found) == 0 {
		t.Fatal("no AdvGLUE exercise in the training split")
	}
	for _, f := range found[:min(len(found), 20)] {
		text := string(train[f[0]:f[1]])
		letter := string(train[f[2]:f[3]])
		prompt := text[:strings.LastIndex(text, "Answer: ")+len("Answer: ")]
		lid := tok.Encode(letter, false)
		want := append(tok.Encode(prompt, false), lid[len(lid)-1])
		got := tok.Encode(strings.TrimSuffix(text, ". "), false)
		if !slices.Equal(got, want) {
			t.Fatalf("exercise %.80q…: encodes as %v, want the prompt's ids then the scored letter token %v", text, got, want)
		}
	}
}

// TestLetterTokenFollowsAnswer: with a world tokenizer trained with the
// prefix space (tokenizer-train --add-prefix-space) on a small world, the
// token eval scores for each answer letter of MMLU's llmcbench variant
// (LLMCBench's tokenizer("A").input_ids[-1]) is the token that follows
// "Answer:" on the world's training quiz pages. A model that reads a
// distinct logit for each of those four tokens shows eval reading exactly
// them: every question's letter log-likelihoods are those logits'
// log-softmax.
func TestLetterTokenFollowsAnswer(t *testing.T) {
	train, dir, tok := prefixSpaceWorld(t)
	// A training quiz page: from an MMLU header to the end of the last
	// "Answer: X" line within 4 kB.
	text := string(train)
	start := strings.Index(text, "The following are multiple choice questions (with answers) about ")
	if start < 0 {
		t.Fatal("no quiz page in the training split")
	}
	page := text[start:min(len(text), start+4096)]
	ends := regexp.MustCompile(`\nAnswer: [ABCD]\n`).FindAllStringIndex(page, -1)
	if len(ends) < 4 {
		t.Fatalf("%d answers in the quiz page %.200q", len(ends), page)
	}
	page = page[:ends[len(ends)-1][1]-1]
	// The token after each "Answer:" of the page, by the letter it stands for.
	ids := tok.Encode(page, false)
	after := map[string]map[int]bool{}
	for i := 1; i < len(ids); i++ {
		if !strings.HasSuffix(tok.Decode(ids[:i], false), "\nAnswer:") {
			continue
		}
		l := strings.TrimSpace(tok.Decode(ids[i:i+1], false))
		if !slices.Contains(mmluLetters, l) {
			continue // an ARC or Q&A page's "Answer: <text>" within the 4 kB
		}
		if after[l] == nil {
			after[l] = map[int]bool{}
		}
		after[l][ids[i]] = true
	}
	want := map[string]int{}
	for l, set := range after {
		if len(set) != 1 {
			t.Fatalf("letter %q follows \"Answer:\" as %d different tokens", l, len(set))
		}
		for id := range set {
			want[l] = id
		}
	}
	if len(want) != len(mmluLetters) {
		t.Fatalf("the quiz page's answers cover letters %v, want all four", want)
	}

	// Eval's scored token of each letter, through a model whose logits
	// are w+1 at the token after "Answer: " of the w-th letter, 0 elsewhere.
	logits := make([]float32, tok.VocabSize())
	for w, l := range mmluLetters {
		if id, ok := want[l]; ok {
			logits[id] = float32(w + 1)
		}
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v))
	}
	logZ := math.Log(z)
	rep, err := Run(context.Background(), Config{Tasks: []string{"mmlu"}, DataDir: dir + "/tasks", Limit: 2,
		PromptVariant: VariantLLMCBench, LogSamples: true}, &fixedLM{logits: logits}, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	samples := rep.Results[0].Samples
	if len(samples) == 0 {
		t.Fatal("no MMLU question scored")
	}
	for _, s := range samples {
		for j, l := range s.Choices {
			id, ok := want[l]
			if !ok {
				continue
			}
			if ll := s.LogLik[j]; math.Abs(ll-(float64(logits[id])-logZ)) > 1e-4 {
				t.Fatalf("doc %d letter %s: log-likelihood %v, want %v (the logit of %q, the token after \"Answer:\")",
					s.Doc, l, ll, float64(logits[id])-logZ, tok.Decode([]int{id}, false))
			}
		}
	}
}
