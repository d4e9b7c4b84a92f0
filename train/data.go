package train

import (
	"fmt"
	"math"
	"os"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/textcheck"
	"github.com/llmcbench/gollm/tokenizer"
)

// Tokenize reads each file as UTF-8 text (refusing binary data: see
// internal/textcheck), encodes it with tok (special
// tokens on, so a BOS opens each file where the tokenizer adds one) and
// appends the end-of-sequence id after it when the tokenizer has one; the
// result is one token stream.
func Tokenize(tok *tokenizer.Tokenizer, files []string) ([]int, error) {
	var ids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, badinput.Missing(fmt.Errorf("data %s: %w", f, err))
		}
		if err := textcheck.Check(b); err != nil {
			return nil, badinput.Errorf("data %s: %v", f, err)
		}
		ids = append(ids, tok.Encode(string(b), true)...)
		if eos, ok := tok.EOS(); ok {
			ids = append(ids, eos)
		}
	}
	return ids, nil
}

// UnigramEntropy returns the entropy (nats per token) of the token
// frequencies of ids: the loss of the best model that ignores context.
func UnigramEntropy(ids []int) float64 {
	count := map[int]int{}
	for _, id := range ids {
		count[id]++
	}
	n := float64(len(ids))
	var h float64
	for _, c := range count {
		p := float64(c) / n
		h -= p * math.Log(p)
	}
	return h
}

func loadTok(dir string) (*tokenizer.Tokenizer, error) { return tokenizer.Load(dir) }
