package llmpruner

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/models"
)

// TestLoRARecovery prunes a LLaMA, a ChatGLM and an OPT model, recovers them with
// LoRA on a learnable text and checks: the held-out loss drops, the merged
// checkpoint keeps every name and shape, reloading it (package grad and the
// engine) gives the adapted model's held-out loss, and config.json records
// the run.
func TestLoRARecovery(t *testing.T) {
	text := filepath.Join(t.TempDir(), "recover.txt")
	var b strings.Builder
	for i := 0; i < 300; i++ {
		b.WriteString("the cat sat on the mat and the dog ran to the log\n")
	}
	if err := os.WriteFile(text, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, model := range map[string]string{"llama": tinyLlama(t), "chatglm": writeModel(t, chatglmConfig, 2), "opt": filepath.Join("..", "..", "testdata", "opt-tiny")} {
		t.Run(name, func(t *testing.T) {
			src, err := models.LoadConfig(model)
			if err != nil {
				t.Fatal(err)
			}
			tok := byteTokenizer{src.Vocab}
			out := t.TempDir()
			if _, err := Prune(context.Background(), Config{Model: model, Out: out, LayerRatio: 0.5, Samples: randomSamples(4, 16, src.Vocab, 9)}, out, nil); err != nil {
				t.Fatal(err)
			}
			before := loadParams(t, out)
			lc := LoRAConfig{Steps: 40, Rank: 4, Alpha: 8, LR: 1e-2, Batch: 4, Seqlen: 16, Data: []string{text}, Seed: 1}
			res, err := Recover(context.Background(), out, lc, tok, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d linears adapted (%d adapter values), held-out loss %.4f → %.4f", res.Adapted, res.AdapterParam, res.LossBefore, res.LossAfter)
			if res.Adapted == 0 || !(res.LossAfter < 0.9*res.LossBefore) {
				t.Fatalf("held-out loss %.4f → %.4f with %d adapted linears", res.LossBefore, res.LossAfter, res.Adapted)
			}
			after := loadParams(t, out)
			if len(after) != len(before) {
				t.Fatalf("%d tensors after merging, %d before", len(after), len(before))
			}
			changed := 0
			for n, tb := range before {
				ta, ok := after[n]
				if !ok || !slices.Equal(ta.Shape, tb.Shape) {
					t.Fatalf("%s changed name or shape", n)
				}
				if !slices.Equal(ta.Val, tb.Val) {
					changed++
				}
			}
			if changed != res.Adapted {
				t.Errorf("%d tensors changed, %d linears adapted", changed, res.Adapted)
			}
			// The held-out windows, as Recover builds them.
			docs, _, _ := corpus.Read(lc.Data, corpus.Lines)
			var toks []int
			for _, d := range docs {
				toks = append(toks, tok.Encode(d, false)...)
			}
			held := toks[len(toks)-len(toks)/10:]
			var win [][]int
			for s := 0; s+lc.Seqlen+1 <= len(held) && len(win) < 8; s += lc.Seqlen + 1 {
				win = append(win, held[s:s+lc.Seqlen+1])
			}
			pm, err := LoadModel(out)
			if err != nil {
				t.Fatal(err)
			}
			loss, err := pm.Loss(win)
			if err != nil || math.Abs(loss-res.LossAfter) > 1e-3*res.LossAfter {
				t.Errorf("merged checkpoint's held-out loss %.5f (%v), adapted model %.5f", loss, err, res.LossAfter)
			}
			em, err := models.Load(out, models.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer em.Close()
			var nll float64
			for _, w := range win {
				logits, err := em.NewState(0).Append(w[:len(w)-1])
				if err != nil {
					t.Fatal(err)
				}
				v := em.Config.Vocab
				for p := 0; p < len(w)-1; p++ {
					nll -= testref.LogProb(logits[p*v:(p+1)*v], w[p+1])
				}
			}
			if el := nll / float64(len(win)*lc.Seqlen); math.Abs(el-res.LossAfter) > 1e-3*res.LossAfter {
				t.Errorf("engine held-out loss %.5f, adapted model %.5f", el, res.LossAfter)
			}
			var cfg map[string]json.RawMessage
			raw, _ := os.ReadFile(filepath.Join(out, "config.json"))
			if err := json.Unmarshal(raw, &cfg); err != nil || cfg["llm_pruner_lora"] == nil || cfg["llm_pruner"] == nil {
				t.Errorf("config.json lacks the records (%v)", err)
			}
		})
	}
}

// TestLoRABadInput checks the recovery settings users can get wrong.
func TestLoRABadInput(t *testing.T) {
	model := tinyLlama(t)
	for _, lc := range []LoRAConfig{
		{Steps: -1},
		{Steps: 5, Data: []string{filepath.Join(t.TempDir(), "missing.txt")}},
		{Steps: 5},
		{Steps: 5, Rank: -2, Data: []string{"lora_test.go"}},
	} {
		if _, err := Recover(context.Background(), model, lc, byteTokenizer{64}, nil); !errors.Is(err, badinput.ErrBadInput) {
			t.Errorf("%+v: %v", lc, err)
		}
	}
	short := filepath.Join(t.TempDir(), "short.txt")
	os.WriteFile(short, []byte("tiny\n"), 0o644)
	if _, err := Recover(context.Background(), model, LoRAConfig{Steps: 5, Data: []string{short}}, byteTokenizer{64}, nil); !errors.Is(err, badinput.ErrBadInput) {
		t.Errorf("too little text: %v", err)
	}
}

// writeText writes lines of a small repetitive text to path.
func writeText(tb testing.TB, path string, lines int) {
	var b strings.Builder
	for i := 0; i < lines; i++ {
		b.WriteString("the cat sat on the mat and the dog ran to the log\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}
