package eval_test

import (
	"fmt"
	"testing"

	"github.com/llmcbench/gollm/eval/evalbench"
)

// The toy model stands in for a real one here; run the same helpers on a
// real model with evalbench (see its package comment).

func BenchmarkPerplexity(b *testing.B) {
	m := evalbench.NewToyLM(259, 256, 2048)
	for _, seqlen := range []int{512, 2048} {
		b.Run(fmt.Sprintf("seqlen=%d", seqlen), func(b *testing.B) {
			evalbench.Perplexity(b, m, seqlen)
		})
	}
}

func BenchmarkMultipleChoice(b *testing.B) {
	m := evalbench.NewToyLM(259, 256, 4096)
	for _, task := range []string{"arc_easy", "mmlu"} {
		for _, reuse := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/reuse=%v", task, reuse), func(b *testing.B) {
				evalbench.MultipleChoice(b, m, evalbench.ByteTokenizer{}, task, 16, reuse, 1)
			})
		}
	}
}
