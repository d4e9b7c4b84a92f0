package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVocabulary: the exported vocabulary and merges are the files' own.
func TestVocabulary(t *testing.T) {
	for _, tc := range []struct {
		dir, model string
	}{
		{"llama2-tiny", "sentencepiece"},
		{"llama3-tiny", "bpe-bytelevel"},
	} {
		dir := filepath.Join("..", "testdata", tc.dir)
		tok, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		model, vocab, merges, err := tok.Vocabulary()
		if err != nil || model != tc.model {
			t.Fatalf("%s: model %q, error %v; want %q", tc.dir, model, err, tc.model)
		}
		if len(vocab) != tok.VocabSize() {
			t.Errorf("%s: %d entries, vocabulary of %d", tc.dir, len(vocab), tok.VocabSize())
		}
		for id, v := range vocab {
			if v.Text != tok.IDToToken(id) {
				t.Fatalf("%s: entry %d is %q, token %q", tc.dir, id, v.Text, tok.IDToToken(id))
			}
		}
		if bos, _ := tok.BOS(); vocab[bos].Type != TokenControl {
			t.Errorf("%s: BOS %d has type %d, want control", tc.dir, bos, vocab[bos].Type)
		}
		if tc.model == "sentencepiece" {
			if vocab[0].Type != TokenUnknown || vocab[3+'A'].Type != TokenByte || vocab[1000].Score >= 0 {
				t.Errorf("%s: types %d %d, score %g", tc.dir, vocab[0].Type, vocab[3+'A'].Type, vocab[1000].Score)
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Model struct{ Merges []json.RawMessage }
		}
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatal(err)
		}
		if len(merges) != len(file.Model.Merges) {
			t.Fatalf("%s: %d merges, file has %d", tc.dir, len(merges), len(file.Model.Merges))
		}
		for i, raw := range file.Model.Merges {
			var pair []string
			var s string
			if json.Unmarshal(raw, &pair) != nil {
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				pair = strings.SplitN(s, " ", 2)
			}
			if merges[i] != pair[0]+" "+pair[1] {
				t.Fatalf("%s: merge %d is %q, file %q", tc.dir, i, merges[i], raw)
			}
		}
	}
}
