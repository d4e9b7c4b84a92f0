package compress

import (
	"math"

	"github.com/llmcbench/gollm/kernels"
)

// statKind selects what an inputStat collects about a linear input.
type statKind uint8

const (
	wantGram    statKind = 1 << iota // Σ XᵀX over every token (GPTQ/SparseGPT Hessian, AWQ's single-layer loss)
	wantColSq                        // Σ ‖X_j‖² (Wanda)
	wantAbsMean                      // Σ |X_j| and the token count (AWQ)
	wantAbsMax                       // max |X_j| (SmoothQuant)
	wantFeats                        // a copy of every sample's input (AWQ's block searches)
	wantSample                       // every stride-th token's row (AWQ's clipping search)
)

// inputStat accumulates statistics of one linear input over the
// calibration samples: the input of q/k/v (or gate/up) is collected once
// and shared.
type inputStat struct {
	dim    int
	kind   statKind
	seqs   int // samples seen
	tokens int // rows seen

	gram   []float64 // [dim×dim], lower triangle until finish
	tile   []float32 // scratch for one Gram tile
	colSq  []float64
	absSum []float64
	absMax []float32
	feats  [][]float32
	stride int       // sample every stride-th token
	rows   []float32 // sampled rows [n×dim]
}

func newInputStat(dim int, kind statKind, stride int) *inputStat {
	s := &inputStat{dim: dim, kind: kind, stride: max(stride, 1)}
	if kind&wantGram != 0 {
		s.gram = make([]float64, dim*dim)
	}
	if kind&wantColSq != 0 {
		s.colSq = make([]float64, dim)
	}
	if kind&wantAbsMean != 0 {
		s.absSum = make([]float64, dim)
	}
	if kind&wantAbsMax != 0 {
		s.absMax = make([]float32, dim)
	}
	return s
}

// gramTile is the tile edge of the blocked XᵀX.
const gramTile = 256

// add accumulates x [rows×dim], the input of one sample whose first token
// has global index t0 (for the strided token sample).
func (s *inputStat) add(x []float32, rows, t0 int) {
	d := s.dim
	x = x[:rows*d]
	s.seqs++
	s.tokens += rows
	if s.kind&wantGram != 0 {
		s.addGram(x, rows)
	}
	if s.kind&(wantColSq|wantAbsMean|wantAbsMax) != 0 {
		kernels.ParallelFor(d, 256, func(lo, hi int) {
			for r := 0; r < rows; r++ {
				row := x[r*d : r*d+d]
				for j := lo; j < hi; j++ {
					v := row[j]
					if s.colSq != nil {
						s.colSq[j] += float64(v) * float64(v)
					}
					a := float32(math.Abs(float64(v)))
					if s.absSum != nil {
						s.absSum[j] += float64(a)
					}
					if s.absMax != nil && a > s.absMax[j] {
						s.absMax[j] = a
					}
				}
			}
		})
	}
	if s.kind&wantFeats != 0 {
		s.feats = append(s.feats, append([]float32(nil), x...))
	}
	if s.kind&wantSample != 0 {
		first := (t0 + s.stride - 1) / s.stride * s.stride
		for t := first; t < t0+rows; t += s.stride {
			r := t - t0
			s.rows = append(s.rows, x[r*d:r*d+d]...)
		}
	}
}

// addGram adds XᵀX to the lower triangle of gram, tile by tile (half the
// work of a full product), each tile a float32 GEMM summed in float64.
func (s *inputStat) addGram(x []float32, rows int) {
	d := s.dim
	tb := min(gramTile, d)
	if len(s.tile) < tb*tb {
		s.tile = make([]float32, tb*tb)
	}
	for i0 := 0; i0 < d; i0 += tb {
		ni := min(tb, d-i0)
		for j0 := 0; j0 <= i0; j0 += tb {
			nj := min(tb, d-j0)
			t := s.tile[:ni*nj]
			kernels.Sgemm(true, false, ni, nj, rows, 1, x[i0:], d, x[j0:], d, 0, t, nj)
			for i := 0; i < ni; i++ {
				g := s.gram[(i0+i)*d+j0 : (i0+i)*d+j0+nj]
				for j, v := range t[i*nj : i*nj+nj] {
					g[j] += float64(v)
				}
			}
		}
	}
}

// hessian returns GPTQ's H = 2/n·Σ XᵀX (n = samples) as a fresh full
// symmetric matrix.
func (s *inputStat) hessian() []float64 {
	return s.fullGram(2 / float64(max(s.seqs, 1)))
}

// fullGram returns scale·Σ XᵀX with both triangles filled.
func (s *inputStat) fullGram(scale float64) []float64 {
	d := s.dim
	h := make([]float64, d*d)
	kernels.ParallelFor(d, 32, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for j := 0; j <= i; j++ {
				v := s.gram[i*d+j] * scale
				h[i*d+j] = v
				h[j*d+i] = v
			}
		}
	})
	return h
}

// gram32 returns Σ XᵀX as a full float32 matrix.
func (s *inputStat) gram32() []float32 {
	d := s.dim
	g := make([]float32, d*d)
	kernels.ParallelFor(d, 32, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for j := 0; j <= i; j++ {
				v := float32(s.gram[i*d+j])
				g[i*d+j] = v
				g[j*d+i] = v
			}
		}
	})
	return g
}

// wandaNorms returns Wanda's scaler_row: Σ_samples ‖X_j‖² / samples.
func (s *inputStat) wandaNorms() []float64 {
	out := make([]float64, s.dim)
	for j, v := range s.colSq {
		out[j] = v / float64(max(s.seqs, 1))
	}
	return out
}

// absMean returns mean |X_j| over every token (AWQ's get_act_scale).
func (s *inputStat) absMean() []float32 {
	out := make([]float32, s.dim)
	for j, v := range s.absSum {
		out[j] = float32(v / float64(max(s.tokens, 1)))
	}
	return out
}
