package models

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// bench100M is a LLaMA-shaped model of ~110M parameters (hidden 768, 12
// layers, 12 heads, SwiGLU 2048, vocab 32000, tied head).
func bench100M() *Config {
	return &Config{
		Arch: "llama", ModelType: "llama", Vocab: 32000, Hidden: 768, Intermediate: 2048,
		Layers: 12, Heads: 12, KVHeads: 12, HeadDim: 64, MaxPos: 2048, NormEps: 1e-5, TieEmbed: true,
		HiddenAct: "silu", Rope: RopeConfig{Theta: 10000, Type: "default", Factor: 1, RotaryDim: 64},
	}
}

// weightBytes sums the storage of every linear layer (what a decode step
// must stream from memory).
func weightBytes(m *Model) int64 {
	var n int64
	for i := -1; i < m.NumLayers(); i++ {
		for _, l := range m.Linears(i) {
			n += l.Host.Bytes()
		}
	}
	return n
}

func BenchmarkDecode100M(b *testing.B) {
	m, err := FromConfig(bench100M(), nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	const ctx = 128
	prompt := make([]int, ctx)
	for i := range prompt {
		prompt[i] = (i * 7919) % m.Config.Vocab
	}
	s := m.NewState(ctx + 1)
	if _, err := s.AppendLast(prompt); err != nil {
		b.Fatal(err)
	}
	bytes := weightBytes(m)
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Truncate(ctx)
		if _, err := s.AppendLast([]int{42}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkPrefill100M(b *testing.B) {
	m, err := FromConfig(bench100M(), nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{128, 512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ids := make([]int, n)
			for i := range ids {
				ids[i] = (i * 7919) % m.Config.Vocab
			}
			s := m.NewState(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Truncate(0)
				if _, err := s.AppendLast(ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// decodeBytes measures heap bytes allocated per decode step.
func decodeBytes(t *testing.T, cfg *Config) float64 {
	m, err := FromConfig(cfg, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewState(64)
	if _, err := s.AppendLast([]int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	next := []int{5}
	if _, err := s.AppendLast(next); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const steps = 50
	for i := 0; i < steps; i++ {
		s.Truncate(4)
		if _, err := s.AppendLast(next); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / steps
}

// TestDecodeAllocFree checks that the decode loop allocates no buffers per
// token once its scratch exists: a model 8× wider must allocate exactly as
// many bytes per step. (What remains are the closure headers of the
// parallel loops, tens of bytes each, independent of model size.)
func TestDecodeAllocFree(t *testing.T) {
	defer kernels.SetMaxThreads(kernels.MaxThreads())
	kernels.SetMaxThreads(1)
	small := bench100M()
	small.Vocab, small.Hidden, small.Intermediate, small.Layers, small.Heads, small.KVHeads, small.HeadDim = 100, 32, 64, 2, 4, 2, 8
	small.Rope.RotaryDim = 8
	wide := *small
	wide.Vocab, wide.Hidden, wide.Intermediate, wide.HeadDim = 800, 256, 512, 64
	wide.Rope.RotaryDim = 64
	// The fewest bytes of three tries: TotalAlloc counts every goroutine of
	// the process, and a runtime or thread-pool allocation landing inside one
	// try must not read as a per-token buffer. The smallest per-token buffer
	// a decode step could allocate is one hidden vector (1 KiB at hidden 256,
	// 128 B at 32), so a gap under half of that is noise, above it a buffer.
	minBytes := func(cfg *Config) float64 {
		best := decodeBytes(t, cfg)
		for i := 0; i < 2; i++ {
			best = min(best, decodeBytes(t, cfg))
		}
		return best
	}
	bs, bw := minBytes(small), minBytes(&wide)
	if bw > bs+float64(wide.Hidden*4)/2 {
		t.Errorf("decode step allocates %.0f bytes at hidden 32 but %.0f at hidden 256: some buffer is allocated per token", bs, bw)
	}
	t.Logf("decode step: %.0f bytes (hidden 32), %.0f bytes (hidden 256)", bs, bw)
}

// BenchmarkLoadCheckpoint loads the checkpoint in $GOLLM_BENCH_CKPT (e.g. a
// ~110M model from go run ./scripts/mkcheckpoint) with and without the
// NaN/Inf check of every float weight; docs/RELIABILITY.md has the numbers.
func BenchmarkLoadCheckpoint(b *testing.B) {
	dir := os.Getenv("GOLLM_BENCH_CKPT")
	if dir == "" {
		b.Skip("set GOLLM_BENCH_CKPT to a model folder")
	}
	b.Run("check-alone", func(b *testing.B) {
		ck, err := tensor.OpenCheckpoint(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer ck.Close()
		for i := 0; i < b.N; i++ {
			for _, n := range ck.Names() {
				t, _ := ck.Tensor(n)
				if t.NonFinite() >= 0 {
					b.Fatalf("%s: not finite", n)
				}
			}
		}
	})
	for _, check := range []bool{false, true} {
		b.Run(fmt.Sprintf("finite-check=%v", check), func(b *testing.B) {
			defer func(v bool) { checkFinite = v }(checkFinite)
			checkFinite = check
			for i := 0; i < b.N; i++ {
				m, err := Load(dir, Options{})
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
	}
}
