package evalbench

import (
	"context"
	"testing"

	"github.com/llmcbench/gollm/eval"
)

// TestToyLMCache checks the toy model's cache: logits after Truncate and
// re-Append equal those of a fresh run, so benchmark numbers with and
// without prefix reuse measure the same work.
func TestToyLMCache(t *testing.T) {
	m := NewToyLM(259, 16, 64)
	ids := ByteTokenizer{}.Encode("shared prefix, then a choice", true)
	fresh, err := m.NewState().Append(ids)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), fresh...)
	st := m.NewState()
	if _, err := st.Append(ids[:10]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append([]int{5, 6, 7}); err != nil {
		t.Fatal(err)
	}
	st.Truncate(10)
	got, err := st.Append(ids[10:])
	if err != nil {
		t.Fatal(err)
	}
	tail := want[10*259:]
	for i := range got {
		if got[i] != tail[i] {
			t.Fatalf("logit %d: %v after truncate, %v fresh", i, got[i], tail[i])
		}
	}
	if st.Len() != len(ids) {
		t.Errorf("Len %d", st.Len())
	}
	if _, err := st.Append(make([]int, 64)); err == nil {
		t.Error("no error past the context")
	}
	if _, err := eval.PerplexityGPTQ(context.Background(), m, ids, 8); err != nil {
		t.Fatal(err)
	}
}

// TestDataReuse runs the synthetic data sets with and without prefix
// reuse: same metrics, fewer forward tokens with reuse.
func TestDataReuse(t *testing.T) {
	m := NewToyLM(259, 8, 4096)
	for _, task := range []string{"arc_easy", "mmlu"} {
		cfg := Data(t, task, 3)
		var res [2]*eval.TaskResult
		for i, noReuse := range []bool{false, true} {
			cfg.NoPrefixReuse = noReuse
			rep, err := eval.Run(context.Background(), cfg, m, ByteTokenizer{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			res[i] = rep.Results[0]
		}
		if res[0].N != 3 || res[0].Metrics["acc"] != res[1].Metrics["acc"] {
			t.Errorf("%s: %v vs %v", task, res[0].Metrics, res[1].Metrics)
		}
		if res[0].ForwardTokens*2 > res[1].ForwardTokens {
			t.Errorf("%s: %d forward tokens with reuse, %d without", task, res[0].ForwardTokens, res[1].ForwardTokens)
		}
	}
}
