package kernels

import (
	"fmt"
	"testing"
)

// Benchmarks for the dense kernels. Shapes are m×n×k for GEMM (C[m×n] =
// A[m×k]·B[k×n]) and in→out for the batch-1 Linear/GEMV (x[1×in]·Wᵀ with W
// [out×in]). GEMMs report GFLOP/s (2·m·n·k per call); GEMVs report GB/s of
// weight traffic (4·in·out bytes per call) through SetBytes and a GB/s
// metric, to read against BenchmarkCopyBandwidth. The OpenBLAS-direct
// counterparts (cgo builds) are in blas_cgo_test.go.

// gemmBenchShapes are the GEMM shapes the targets are stated for.
var gemmBenchShapes = [][3]int{{512, 512, 512}, {1024, 1024, 1024}, {4096, 4096, 128}}

// gemvBenchShapes are LLaMA-7B's MLP projections at batch 1: gate/up
// (4096→11008) and down (11008→4096).
var gemvBenchShapes = [][2]int{{4096, 11008}, {11008, 4096}}

func gemmShapeName(s [3]int) string { return fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]) }

func gemmReportGFLOPS(b *testing.B, m, n, k int) {
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func gemvReportGBS(b *testing.B, in, out int) {
	b.ReportMetric(4*float64(in)*float64(out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// benchSgemm runs gemm on every shape of gemmBenchShapes (A·B, no
// transposes) and reports GFLOP/s.
func benchSgemm(b *testing.B, gemm sgemmFunc) {
	for _, s := range gemmBenchShapes {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := gemmRandom(m*k, 1), gemmRandom(k*n, 2), make([]float32, m*n)
		b.Run(gemmShapeName(s), func(b *testing.B) {
			for b.Loop() {
				gemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
			}
			gemmReportGFLOPS(b, m, n, k)
		})
	}
}

// BenchmarkSgemm measures Sgemm (the public API: OpenBLAS in cgo builds,
// the pure-Go kernel with -tags purego or CGO_ENABLED=0).
func BenchmarkSgemm(b *testing.B) {
	b.Logf("BLAS: %s", BLAS())
	benchSgemm(b, Sgemm)
}

// BenchmarkSgemmGo measures the pure-Go blocked kernel in every build.
func BenchmarkSgemmGo(b *testing.B) {
	benchSgemm(b, gemmGo)
}

// BenchmarkLinear measures Linear for prefill-sized batches (m tokens
// through a 4096→4096 projection, Wᵀ layout) with a bias.
func BenchmarkLinear(b *testing.B) {
	for _, s := range [][3]int{{128, 4096, 4096}, {16, 4096, 4096}, {4, 4096, 4096}} {
		m, n, k := s[0], s[1], s[2]
		x, w, bias, dst := gemmRandom(m*k, 1), gemmRandom(n*k, 2), gemmRandom(n, 3), make([]float32, m*n)
		b.Run(gemmShapeName(s), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Linear(dst, x, m, k, w, n, bias)
			}
			gemmReportGFLOPS(b, m, n, k)
		})
	}
}

// BenchmarkLinearGEMV measures batch-1 decode through Linear (OpenBLAS's
// sgemv in cgo builds, the pure-Go GEMV otherwise). The "-stream4" variants
// rotate over four distinct weight matrices (720 MB in all), more than the
// last-level cache holds, so they measure weights streamed from DRAM as in a
// real decode; the plain variants may be served partly from a large L3.
func BenchmarkLinearGEMV(b *testing.B) {
	gemvBench(b, func(dst, x, w []float32, in, out int) { Linear(dst, x, 1, in, w, out, nil) })
}

// BenchmarkLinearGEMVGo measures the pure-Go GEMV in every build.
func BenchmarkLinearGEMVGo(b *testing.B) {
	gemvBench(b, func(dst, x, w []float32, in, out int) { gemvGo(1, out, in, 1, x, in, w, in, 0, dst, out, nil) })
}

func gemvBench(b *testing.B, fn func(dst, x, w []float32, in, out int)) {
	for _, s := range gemvBenchShapes {
		in, out := s[0], s[1]
		x, dst := gemmRandom(in, 1), make([]float32, out)
		ws := make([][]float32, 4)
		for i := range ws {
			ws[i] = gemmRandom(in*out, uint64(i+2))
		}
		for _, stream := range []int{1, 4} {
			name := fmt.Sprintf("%dx%d", in, out)
			if stream > 1 {
				name += fmt.Sprintf("-stream%d", stream)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(4 * int64(in) * int64(out))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					fn(dst, x, ws[i%stream], in, out)
					i++
				}
				gemvReportGBS(b, in, out)
			})
		}
	}
}

// BenchmarkDecodeLayer runs the seven batch-1 projections of one LLaMA-7B
// decoder layer (q, k, v, o: 4096→4096; gate, up: 4096→11008; down:
// 11008→4096; 810 MB of f32 weights, past the last-level cache) with the Go
// ops that sit between them (RMSNorm, SwiGLU, a residual add), as a decode
// step does. "Linear" is the configured path (OpenBLAS sgemv in cgo
// builds), "go" the pure-Go GEMV; the difference includes what OpenBLAS's
// spinning threads cost the Go ops. Reports GB/s of weight traffic.
func BenchmarkDecodeLayer(b *testing.B) {
	const d, f = 4096, 11008
	shapes := [][2]int{{d, d}, {d, d}, {d, d}, {d, d}, {d, f}, {d, f}, {f, d}}
	ws := make([][]float32, len(shapes))
	var bytes int64
	for i, s := range shapes {
		ws[i] = gemmRandom(s[0]*s[1], uint64(i))
		bytes += 4 * int64(s[0]*s[1])
	}
	h, xn, gamma := gemmRandom(d, 10), make([]float32, d), gemmRandom(d, 11)
	q, kk, v, o := make([]float32, d), make([]float32, d), make([]float32, d), make([]float32, d)
	gate, up, down := make([]float32, f), make([]float32, f), make([]float32, d)
	paths := []struct {
		name string
		lin  func(dst, x []float32, k int, w []float32, n int)
	}{
		{"Linear", func(dst, x []float32, k int, w []float32, n int) { Linear(dst, x, 1, k, w, n, nil) }},
		{"go", func(dst, x []float32, k int, w []float32, n int) { gemvGo(1, n, k, 1, x, k, w, k, 0, dst, n, nil) }},
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				RMSNorm(xn, h, gamma, 1e-5)
				p.lin(q, xn, d, ws[0], d)
				p.lin(kk, xn, d, ws[1], d)
				p.lin(v, xn, d, ws[2], d)
				Add(o, q, v) // stands in for attention
				p.lin(down, o, d, ws[3], d)
				Add(h, h, down)
				RMSNorm(xn, h, gamma, 1e-5)
				p.lin(gate, xn, d, ws[4], f)
				p.lin(up, xn, d, ws[5], f)
				SwiGLU(gate, gate, up)
				p.lin(down, gate, f, ws[6], d)
				Add(h, h, down)
				RMSNorm(h, h, gamma, 1e-5) // keeps h bounded across iterations
			}
			b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
