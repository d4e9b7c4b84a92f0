//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/llmcbench/gollm/models"
)

// Benchmarks time the device with CUDA events (after a warm-up call) and
// report device GB/s or tokens/s, and the percentage of the device-to-device
// copy bandwidth measured in the same process ("%peak": read + write bytes
// of cuMemcpyDtoD, the practical ceiling of a memory-bound kernel). They
// skip on the emulator. Run them with, e.g.,
//
//	go test -tags cuda -run '^$' -bench . -benchtime 20x ./cuda

func skipEmulated(b *testing.B) {
	if emulated {
		b.Skip("the emulator has no meaningful timings")
	}
}

// deviceTime runs f n times between two events and returns milliseconds
// per call.
func deviceTime(tb testing.TB, g *Backend, n int, f func(i int)) float64 {
	tb.Helper()
	f(0) // warm-up (JIT, caches, lazy allocations)
	if err := g.Synchronize(); err != nil {
		tb.Fatal(err)
	}
	lap, err := g.d.timer()
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f(i)
	}
	ms, err := lap()
	if err != nil {
		tb.Fatal(err)
	}
	return ms / float64(n)
}

var (
	peakOnce sync.Once
	peakGBs  float64
)

// copyPeak measures cuMemcpyDtoD of 1 GiB (GB/s counting read + write).
func copyPeak(tb testing.TB, g *Backend) float64 {
	peakOnce.Do(func() {
		const size = 1 << 30
		src, dst := g.alloc("bench", size), g.alloc("bench", size)
		ms := deviceTime(tb, g, 10, func(int) {
			if err := g.d.dtod(dst.p, src.p, size); err != nil {
				tb.Fatal(err)
			}
		})
		peakGBs = 2 * size / ms / 1e6
	})
	return peakGBs
}

func BenchmarkCopy(b *testing.B) {
	skipEmulated(b)
	g := gpu(b, f16, false)
	peak := copyPeak(b, g)
	// The engine's own copy kernel over the same 1 GiB.
	const size = 1 << 30
	src, dst := g.alloc("bench", size), g.alloc("bench", size)
	n4 := int64(size / 16)
	ms := deviceTime(b, g, b.N, func(int) {
		g.mu.Lock()
		g.launch("copy", g.k.copy, dim3{g.sms * 8, 1, 1}, dim3{256, 1, 1}, argP(dst.p), argP(src.p), argI64(n4))
		g.mu.Unlock()
	})
	b.ReportMetric(peak, "memcpy-GB/s")
	b.ReportMetric(2*size/ms/1e6, "kernel-GB/s")
	b.ReportMetric(100*2*size/ms/1e6/peak, "%peak")
}

// gemvShapes are LLaMA-2-7B's batch-1 matrices (out×in) and LLaMA-3-8B's MLP.
var gemvShapes = []struct{ out, in int }{
	{4096, 4096},  // q, k, v, o
	{11008, 4096}, // gate, up
	{4096, 11008}, // down
	{32000, 4096}, // LM head
	{14336, 4096}, // LLaMA-3-8B gate, up
	{4096, 14336}, // LLaMA-3-8B down
}

// BenchmarkGEMV times y = W·x for one row (the decode GEMV) in f16, each
// rows-per-warp variant, rotating over enough copies of W (≥ 256 MB) that
// every call streams its weights from HBM rather than L2.
func BenchmarkGEMV(b *testing.B) {
	skipEmulated(b)
	g := gpu(b, f16, false)
	peak := copyPeak(b, g)
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range gemvShapes {
		bytes := int64(s.out) * int64(s.in) * 2
		copies := int(max(1, (256<<20)/bytes+1))
		host := randSlice(r, s.out*s.in)
		ws := make([]*buffer, copies)
		g.mu.Lock()
		for i := range ws {
			var err error
			if ws[i], err = g.upload(host, f16); err != nil {
				g.mu.Unlock()
				b.Fatal(err)
			}
		}
		g.mu.Unlock()
		x := g.NewTensor(1, s.in).(*Tensor)
		g.Write(x, randSlice(r, s.in))
		y := g.NewTensor(1, s.out).(*Tensor)
		for _, rpw := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%dx%d/r%d", s.out, s.in, rpw), func(b *testing.B) {
				b.SetBytes(bytes)
				ms := deviceTime(b, g, b.N, func(i int) {
					g.mu.Lock()
					g.gemv(y.p, ws[i%copies].p, x.p, 0, 1, s.out, s.in, rpw, false)
					g.mu.Unlock()
				})
				gbs := float64(bytes) / ms / 1e6
				b.ReportMetric(ms*1e3, "us/call")
				b.ReportMetric(gbs, "GB/s")
				b.ReportMetric(100*gbs/peak, "%peak")
			})
		}
	}
}

// BenchmarkAttentionDecode times one decode step of attention (32 heads ×
// 128, f16 cache) at several context lengths: the kernel reads the layer's
// keys and values once.
func BenchmarkAttentionDecode(b *testing.B) {
	skipEmulated(b)
	g := gpu(b, f16, false)
	peak := copyPeak(b, g)
	const heads, hd = 32, 128
	for _, ctx := range []int{512, 2048, 4096} {
		b.Run(fmt.Sprint(ctx), func(b *testing.B) {
			c := g.NewKVCache(1, ctx, heads*hd).(*kvCache)
			bytes := int64(2 * ctx * heads * hd * 2)
			g.mu.Lock()
			g.check("zero", g.d.zero(c.k[0].p, bytes/2))
			g.check("zero", g.d.zero(c.v[0].p, bytes/2))
			g.mu.Unlock()
			q, out := g.NewTensor(1, heads*hd), g.NewTensor(1, heads*hd)
			scale := float32(1 / math.Sqrt(hd))
			ms := deviceTime(b, g, b.N, func(int) {
				g.Attention(out, q, c, 0, ctx-1, heads, heads, hd, scale)
			})
			gbs := float64(bytes) / ms / 1e6
			b.ReportMetric(ms*1e3, "us/call")
			b.ReportMetric(gbs, "GB/s")
			b.ReportMetric(100*gbs/peak, "%peak")
		})
	}
}

var (
	llamaOnce sync.Once
	llama7B   *models.Model
	llamaErr  error
)

// llama2_7B builds LLaMA-2-7B (scripts/llama2-7b-config.json) with random
// weights on the f16 backend: ~27 GB of host memory for the f32 host copy
// the model keeps, 13.5 GB on the device.
func llama2_7B(b *testing.B) *models.Model {
	llamaOnce.Do(func() {
		cfg, err := models.ParseConfig("../scripts/llama2-7b-config.json")
		if err != nil {
			llamaErr = err
			return
		}
		llama7B, llamaErr = models.FromConfig(cfg, gpu(b, f16, false), 1)
	})
	if llamaErr != nil {
		b.Fatal(llamaErr)
	}
	return llama7B
}

func weightBytes(m *models.Model) int64 {
	var n int64
	for i := -1; i < m.NumLayers(); i++ {
		for _, l := range m.Linears(i) {
			n += int64(l.Out()) * int64(l.In()) * 2
		}
	}
	return n
}

// BenchmarkDecodeLlama7B times a whole batch-1 decode step of LLaMA-2-7B in
// f16 (logits copied to the host included) after a 128-token prompt; the
// bound is the f16 weights (13.5 GB) over the copy bandwidth.
func BenchmarkDecodeLlama7B(b *testing.B) {
	skipEmulated(b)
	m := llama2_7B(b)
	peak := copyPeak(b, m.Backend.(*Backend))
	const ctx = 128
	prompt := make([]int, ctx)
	for i := range prompt {
		prompt[i] = (i*7919 + 1) % m.Config.Vocab
	}
	s := m.NewState(ctx + 1)
	if _, err := s.AppendLast(prompt); err != nil {
		b.Fatal(err)
	}
	step := func() {
		s.Truncate(ctx)
		if _, err := s.AppendLast([]int{42}); err != nil {
			b.Fatal(err)
		}
	}
	step()
	bytes := weightBytes(m)
	b.SetBytes(bytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(1/sec, "tokens/s")
	b.ReportMetric(sec*1e3, "ms/token")
	b.ReportMetric(float64(bytes)/sec/1e9, "GB/s")
	b.ReportMetric(100*float64(bytes)/sec/1e9/peak, "%peak")
	b.ReportMetric(peak*1e9/float64(bytes), "bound-tokens/s")
}

// BenchmarkPrefillLlama7B times a 2048-token prefill of LLaMA-2-7B in f16
// (last position's logits only, as generate does).
func BenchmarkPrefillLlama7B(b *testing.B) {
	skipEmulated(b)
	m := llama2_7B(b)
	const n = 2048
	ids := make([]int, n)
	for i := range ids {
		ids[i] = (i*7919 + 1) % m.Config.Vocab
	}
	s := m.NewState(n)
	run := func() {
		s.Truncate(0)
		if _, err := s.AppendLast(ids); err != nil {
			b.Fatal(err)
		}
	}
	run()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	flops := 2 * float64(weightBytes(m)/2) * n
	b.ReportMetric(sec*1e3, "ms")
	b.ReportMetric(n/sec, "tokens/s")
	b.ReportMetric(flops/sec/1e12, "linear-TFLOP/s")
}
