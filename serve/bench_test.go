package serve

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tokenizer"
)

// randomModel writes a ~91M-parameter llama config (hidden 768, 12 layers,
// MLP 2048, the llama3-tiny tokenizer's 4000-token vocabulary) and loads it
// with random weights.
func randomModel(b *testing.B) (*models.Model, *tokenizer.Tokenizer) {
	src := filepath.Join("..", "testdata", "llama3-tiny")
	raw, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		b.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		b.Fatal(err)
	}
	for k, v := range map[string]any{"hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 2048,
		"num_attention_heads": 12, "num_key_value_heads": 12, "head_dim": 64, "max_position_embeddings": 256} {
		cfg[k] = v
	}
	dir := b.TempDir()
	out, _ := json.Marshal(cfg)
	tj, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj, 0o644); err != nil {
		b.Fatal(err)
	}
	m, err := models.Load(dir, models.Options{RandomWeights: true, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	return m, tok
}

// BenchmarkContinuousBatching serves 16 requests (32 prompt tokens, 64
// output tokens each, greedy, EOS ignored) one at a time and then all at
// once on a ~91M random llama, and reports each aggregate output-token
// throughput and their ratio. The ratio is what continuous batching buys:
// decode steps of 16 sequences run as one 16-row GEMM per linear layer.
//
//	go test -run '^$' -bench ContinuousBatching -benchtime 1x ./serve/
func BenchmarkContinuousBatching(b *testing.B) {
	const clients, in, out = 16, 32, 64
	m, tok := randomModel(b)
	defer m.Close()
	s, err := New(m, tok, Config{ModelName: "random", MaxSeqs: clients})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	request := func(i int) {
		prompt := make([]int, in)
		for j := range prompt {
			prompt[j] = 10 + (i*in+j*7)%3000
		}
		code, ans := post(b, hs.URL+"/v1/completions", map[string]any{"prompt": prompt, "max_tokens": out, "temperature": 0, "ignore_eos": true})
		if u, _ := ans["usage"].(map[string]any); code != 200 || u["completion_tokens"] != float64(out) {
			panic(fmt.Sprintf("request %d: %d %v", i, code, ans))
		}
	}
	var seqTime, concTime time.Duration
	for range b.N {
		t0 := time.Now()
		for i := range clients {
			request(i)
		}
		seqTime += time.Since(t0)
		t0 = time.Now()
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); request(i) }()
		}
		wg.Wait()
		concTime += time.Since(t0)
	}
	tokens := float64(b.N * clients * out)
	seq, conc := tokens/seqTime.Seconds(), tokens/concTime.Seconds()
	b.ReportMetric(seq, "seq_tok/s")
	b.ReportMetric(conc, "conc16_tok/s")
	b.ReportMetric(conc/seq, "speedup")
	b.Logf("%s: 16 × (%d in, %d out): one at a time %.1f tok/s, 16 concurrent %.1f tok/s, %.2f×", m.Describe(), in, out, seq, conc, conc/seq)
}
