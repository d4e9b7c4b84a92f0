package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// allFixtureTokenizers loads every tokenizer.json and tokenizer.model
// fixture.
func allFixtureTokenizers(t *testing.T) map[string]*Tokenizer {
	t.Helper()
	out := map[string]*Tokenizer{}
	for _, dir := range []string{fixtureDir, "testdata"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.tokenizer.json"))
		models, _ := filepath.Glob(filepath.Join(dir, "*.tokenizer.model"))
		for _, p := range append(paths, models...) {
			var tok *Tokenizer
			var err error
			if strings.HasSuffix(p, ".json") {
				tok, err = LoadJSON(p)
			} else {
				tok, err = LoadSentencePiece(p)
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			out[filepath.Base(p)] = tok
		}
	}
	if len(out) < 8 {
		t.Fatalf("found only %d fixture tokenizers", len(out))
	}
	return out
}

// allCaseTexts collects the text of every conformance case.
func allCaseTexts(t *testing.T) []string {
	t.Helper()
	var texts []string
	for _, dir := range []string{fixtureDir, "testdata"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.cases.json"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			type textCase struct {
				Text string `json:"text"`
			}
			var f struct {
				Cases []textCase `json:"cases"`
			}
			if err := json.Unmarshal(b, &f); err != nil {
				// SentencePiece cases are a bare list.
				if err := json.Unmarshal(b, &f.Cases); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
			}
			for _, c := range f.Cases {
				texts = append(texts, c.Text)
			}
		}
	}
	if len(texts) < 50 {
		t.Fatalf("found only %d case texts", len(texts))
	}
	return texts
}

// TestPiecewiseEncodeIdentical: encoding a text in pieces (forced tiny here,
// so every conformance case and a long generated text cross many cuts)
// gives exactly the ids of encoding it whole.
func TestPiecewiseEncodeIdentical(t *testing.T) {
	toks := allFixtureTokenizers(t)
	texts := allCaseTexts(t)
	texts = append(texts, benchTexts(64<<10, 1)[0],
		"a  b   c\t\td \n e\n\nf \u00a0g\u3000h  ", "   leading and trailing   ",
		"x y z 1 2 3 1234567 , . ; ' 's 'll don't", strings.Repeat("word ", 500), strings.Repeat("ab", 300),
		"Ünïcödé ñ café naïve 東京 日本語 🙂 🙂🙂 e\u0301 A\u030a", "Σ ΟΔΟΣ Σ. ΣΑΣ")
	defer func(n int) { encodePieceSize = n }(encodePieceSize)
	for name, tok := range toks {
		encodePieceSize = 1 << 30
		want := make([][2][]int, len(texts))
		for i, s := range texts {
			want[i] = [2][]int{tok.Encode(s, false), tok.Encode(s, true)}
		}
		for _, size := range []int{1, 2, 3, 7, 64} {
			encodePieceSize = size
			tok.free = nil // fresh word caches
			for i, s := range texts {
				if got := tok.Encode(s, false); !slices.Equal(got, want[i][0]) {
					t.Errorf("%s, pieces of %d: Encode(%.60q) differs from the whole text's ids", name, size, s)
				}
				if got := tok.Encode(s, true); !slices.Equal(got, want[i][1]) {
					t.Errorf("%s, pieces of %d: Encode(%.60q, true) differs", name, size, s)
				}
			}
		}
	}
}
