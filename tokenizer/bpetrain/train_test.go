package bpetrain

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/llmcbench/gollm/synth"
)

func corpusOf(t *testing.T, texts ...string) *Corpus {
	t.Helper()
	c := NewCorpus(CorpusOptions{})
	for i, s := range texts {
		if err := c.Add("text"+string(rune('0'+i)), strings.NewReader(s)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestTinyCorpora: merges worked out by hand. "Ġ" is the byte-level symbol
// of a space, "Ã©" the two bytes of "é"; ids run specials, then bytes in
// code-point order ('a' < 'z' < 'Ã' < '©' < 'Ġ'), then merged tokens.
func TestTinyCorpora(t *testing.T) {
	for _, tc := range []struct {
		name   string
		text   string
		limit  int  // vocabulary size to stop at (0: until no pair is left)
		prefix bool // CorpusOptions.AddPrefixSpace
		want   [][2]string
	}{
		// (a,b) 3; then (Ġ,ab) 2; then (c,d) and (Ġ,c) tie at 1 and 'c'
		// has the smaller id; then (Ġ,cd).
		{"counts then ids", "ab ab ab cd\n", 0, false, [][2]string{{"a", "b"}, {"Ġ", "ab"}, {"c", "d"}, {"Ġ", "cd"}}},
		// (x,y) 2; then three pairs of count 1: (z,w) first ('z' < 'Ġ'),
		// then (Ġ,xy) before (Ġ,zw) (xy was made first).
		{"tie on second id", "xy xy zw\n", 0, false, [][2]string{{"x", "y"}, {"z", "w"}, {"Ġ", "xy"}, {"Ġ", "zw"}}},
		// Overlapping pairs merge left to right: aaaa -> aa aa -> aaaa.
		{"overlap even", "aaaa\n", 0, false, [][2]string{{"a", "a"}, {"aa", "aa"}}},
		// aaa -> aa a -> aaa (no (a,a) is left after the first merge).
		{"overlap odd", "aaa\n", 0, false, [][2]string{{"a", "a"}, {"aa", "a"}}},
		// Bytes, not characters: é is two byte symbols.
		{"utf-8 bytes", "é é\n", 0, false, [][2]string{{"Ã", "©"}, {"Ġ", "Ã©"}}},
		// Word counts weigh pairs: "bc" twice as a word beats "ab" once.
		{"word counts", "ab\nbc\nbc\n", 0, false, [][2]string{{"b", "c"}, {"a", "b"}}},
		// Each line's '\n' is its own word (Ċ), never merged with letters.
		{"newlines", "a\n\nb\n", 0, false, nil},
		// Stopping at a vocabulary size.
		{"limit", "ab ab ab cd\n", len(SpecialTokens) + 256 + 2, false, [][2]string{{"a", "b"}, {"Ġ", "ab"}}},
		// The prefix space: "x" becomes " x" (one word Ġx) and the blank
		// line " \n" (one whitespace word ĠĊ); " y" keeps its one space.
		{"prefix space", "x\n\n y\n", 0, true, [][2]string{{"Ġ", "x"}, {"Ġ", "y"}, {"Ġ", "Ċ"}}},
		{"no prefix space", "x\n\n y\n", 0, false, [][2]string{{"Ġ", "y"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = MaxVocab
			}
			c := NewCorpus(CorpusOptions{AddPrefixSpace: tc.prefix})
			if err := c.Add("text", strings.NewReader(tc.text)); err != nil {
				t.Fatal(err)
			}
			m, err := learn(context.Background(), c, limit, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.AddPrefixSpace != tc.prefix {
				t.Errorf("model AddPrefixSpace %v, want %v", m.AddPrefixSpace, tc.prefix)
			}
			if !slices.Equal(m.Merges, tc.want) && !(len(m.Merges) == 0 && len(tc.want) == 0) {
				t.Errorf("merges %q, want %q", m.Merges, tc.want)
			}
			if got, want := len(m.Vocab), len(SpecialTokens)+256+len(tc.want); got != want {
				t.Errorf("vocabulary %d tokens, want %d", got, want)
			}
			for i, mg := range m.Merges {
				if got, want := m.Vocab[len(SpecialTokens)+256+i], mg[0]+mg[1]; got != want {
					t.Errorf("token %d = %q, want merge %d %q", len(SpecialTokens)+256+i, got, i, want)
				}
			}
		})
	}
}

func TestAlphabet(t *testing.T) {
	m, err := learn(context.Background(), corpusOf(t, "x\n"), MaxVocab, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Vocab[:2], SpecialTokens) {
		t.Errorf("first ids %q, want %q", m.Vocab[:2], SpecialTokens)
	}
	alpha := m.Vocab[2 : 2+256]
	seen := map[string]bool{}
	for i, s := range alpha {
		seen[s] = true
		if i > 0 && []rune(alpha[i-1])[0] >= []rune(s)[0] {
			t.Errorf("alphabet not in code-point order at %d: %q then %q", i, alpha[i-1], s)
		}
	}
	if len(seen) != 256 || alpha[0] != "!" || !seen["Ġ"] || !seen["Ċ"] {
		t.Errorf("alphabet: %d distinct symbols, first %q", len(seen), alpha[0])
	}
}

func TestCorpusBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "empty"},
		{"invalid first byte", "\xffabc\n", "invalid UTF-8 at byte 0"},
		{"invalid on line 2", "ok line\nab\xffc\n", "invalid UTF-8 at byte 10"},
		{"truncated rune at the end", "abc\xc3", "invalid UTF-8 at byte 3"},
		{"surrogate", "a\xed\xa0\x80", "invalid UTF-8 at byte 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCorpus(CorpusOptions{})
			err := c.Add("f.txt", strings.NewReader(tc.text))
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "f.txt: ") {
				t.Fatalf("error %v, want ErrBadInput naming f.txt and %q", err, tc.want)
			}
			if c.Words() != 0 || c.Bytes() != 0 {
				t.Errorf("a refused text was counted: %d words, %d bytes", c.Words(), c.Bytes())
			}
		})
	}
}

func TestCheckVocabSize(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{-128, false}, {0, false}, {128, false}, {256, false}, {258, false}, {384, true}, {400, false},
		{4096, true}, {4097, false}, {MaxVocab, true}, {MaxVocab + 128, false}} {
		if err := CheckVocabSize(tc.n); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadInput)) {
			t.Errorf("CheckVocabSize(%d) = %v, want ok %v", tc.n, err, tc.ok)
		}
	}
}

func TestTrainTooLarge(t *testing.T) {
	_, err := Train(context.Background(), corpusOf(t, "ab ab ab cd\n"), Options{VocabSize: 384})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "too large for the corpus") || !strings.Contains(err.Error(), "at 262 tokens") {
		t.Fatalf("error %v, want ErrBadInput: too large for the corpus at 262 tokens", err)
	}
}

func TestTrainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, worldCorpus(t), Options{VocabSize: 1024}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

var world struct {
	once  sync.Once
	train []byte
	err   error
}

// worldTrain is the training split of the built-in world (seed 1), the
// corpus gollm's reference models train on.
func worldTrain(t *testing.T) []byte {
	t.Helper()
	world.once.Do(func() {
		o, err := synth.Generate(synth.DefaultOptions())
		if err != nil {
			world.err = err
			return
		}
		for _, f := range o.Files {
			if f.Path == "corpus/train.txt" {
				world.train = f.Data
			}
		}
	})
	if world.err != nil || len(world.train) == 0 {
		t.Fatalf("synth corpus/train.txt: %v (%d bytes)", world.err, len(world.train))
	}
	return world.train
}

func worldCorpus(t *testing.T) *Corpus {
	t.Helper()
	c := NewCorpus(CorpusOptions{})
	if err := c.Add("train.txt", bytes.NewReader(worldTrain(t))); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDeterministic: training twice (the second time from the text in two
// parts) writes the same bytes, with the requested size exactly and no
// merge twice.
func TestDeterministic(t *testing.T) {
	const size = 1024
	var docs [][]byte
	for i := range 2 {
		c := worldCorpus(t)
		if i == 1 {
			text := worldTrain(t)
			cut := bytes.IndexByte(text[len(text)/2:], '\n') + len(text)/2 + 1
			c = NewCorpus(CorpusOptions{})
			for _, part := range [][]byte{text[:cut], text[cut:]} {
				if err := c.Add("part", bytes.NewReader(part)); err != nil {
					t.Fatal(err)
				}
			}
		}
		m, err := Train(context.Background(), c, Options{VocabSize: size})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Vocab) != size {
			t.Fatalf("vocabulary %d, want %d", len(m.Vocab), size)
		}
		pairs := map[[2]string]bool{}
		for _, mg := range m.Merges {
			if pairs[mg] {
				t.Fatalf("merge %q twice", mg)
			}
			pairs[mg] = true
		}
		doc, err := m.TokenizerJSON()
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Fatal("two trainings on the same text wrote different tokenizer.json files")
	}
}

// FuzzTrain: any bytes, with or without the prefix space, are either
// refused as bad input or train a tokenizer whose merged tokens are their
// pairs' concatenation and that package tokenizer loads and round-trips
// the text with (after the leading space the prefix space adds); never a
// panic.
func FuzzTrain(f *testing.F) {
	for i, s := range []string{"ab ab ab cd\n", "aaaa\n", "é é\n", "", "\xff", "a\r\n\tb  c\n\n", "it's 123 4567!!", " x\n\ny"} {
		f.Add([]byte(s), i%2 == 1)
	}
	f.Fuzz(func(t *testing.T, data []byte, prefixSpace bool) {
		c := NewCorpus(CorpusOptions{AddPrefixSpace: prefixSpace})
		if err := c.Add("f", bytes.NewReader(data)); err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error %v is not ErrBadInput", err)
			}
			return
		}
		m, err := learn(context.Background(), c, len(SpecialTokens)+256+64, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Vocab) > len(SpecialTokens)+256+64 {
			t.Fatalf("vocabulary %d above the limit", len(m.Vocab))
		}
		ids := map[string]bool{}
		for _, tok := range m.Vocab {
			if ids[tok] {
				t.Fatalf("token %q twice", tok)
			}
			ids[tok] = true
		}
		for _, mg := range m.Merges {
			if !ids[mg[0]] || !ids[mg[1]] || !ids[mg[0]+mg[1]] {
				t.Fatalf("merge %q: a part or the result is not a token", mg)
			}
		}
		tok, err := m.Tokenizer()
		if err != nil {
			t.Fatal(err)
		}
		want := string(data)
		if prefixSpace {
			for _, sp := range SpecialTokens {
				if strings.Contains(want, sp) {
					return // each text between special tokens gets its own space
				}
			}
			if !strings.HasPrefix(want, " ") {
				want = " " + want
			}
		}
		if got := tok.Decode(tok.Encode(string(data), true), true); got != want {
			t.Fatalf("round trip of %q gave %q, want %q", data, got, want)
		}
	})
}
