//go:build cuda || cudaemu

package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/kernels"
	cudakernels "github.com/llmcbench/gollm/kernels/cuda"
	"github.com/llmcbench/gollm/tensor"
)

// The per-operation tests run each op on the GPU backend and on the CPU
// backend (whose ops are the plain references in package kernels) with the
// same inputs, the CPU getting the weights already rounded to the GPU's
// storage dtype, so that the results must agree to float32 accuracy.

var (
	backendsMu sync.Mutex
	backends   = map[string]*Backend{}
)

// gpu returns a shared backend for dt (and noBLAS), opened on first use.
func gpu(t testing.TB, dt dtype, noBLAS bool) *Backend { return gpuKV(t, dt, dt, noBLAS) }

// gpuKV is gpu with a KV-cache dtype.
func gpuKV(t testing.TB, dt, kvdt dtype, noBLAS bool) *Backend {
	t.Helper()
	key := fmt.Sprint(dt, kvdt, noBLAS)
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if b := backends[key]; b != nil {
		return b
	}
	b, err := New(0, Options{DType: dt.String(), KVDType: kvdt.String(), NoBLAS: noBLAS})
	if err != nil {
		t.Fatalf("cuda.New: %v", err)
	}
	backends[key] = b
	return b
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range backends {
		b.Close()
	}
	os.Exit(code)
}

var dtypes = []dtype{f32, f16, bf16}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// roundTo returns v rounded to dt's precision (as the GPU stores it).
func roundTo(dt dtype, v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		switch dt {
		case f16:
			out[i] = tensor.F16ToF32(tensor.F32ToF16(x))
		case bf16:
			out[i] = tensor.BF16ToF32(tensor.F32ToBF16(x))
		default:
			out[i] = x
		}
	}
	return out
}

// twin holds one activation on both backends.
type twin struct{ g, c backend.Tensor }

type pair struct {
	t  *testing.T
	g  *Backend
	c  *backend.CPU
	dt dtype
}

func newPair(t *testing.T, dt dtype, noBLAS bool) *pair {
	return &pair{t: t, g: gpu(t, dt, noBLAS), c: backend.NewCPU(), dt: dt}
}

func (p *pair) tensor(rows, cols int, v []float32) twin {
	g, c := p.g.NewTensor(rows, cols), p.c.NewTensor(rows, cols)
	if v != nil {
		p.g.Write(g, v)
		p.c.Write(c, v)
	}
	return twin{g, c}
}

func (p *pair) read(t twin) (got, want []float32) {
	n := t.c.Rows() * t.c.Cols()
	got, want = make([]float32, n), make([]float32, n)
	p.g.Read(got, t.g)
	p.c.Read(want, t.c)
	return got, want
}

// vec uploads a 1-D f32 parameter (not rounded: vectors stay f32).
func (p *pair) vec(v []float32) (backend.Weight, backend.Weight) {
	tt := tensor.FromFloat32("v", []int{len(v)}, v)
	g, err := p.g.Upload(tt)
	if err != nil {
		p.t.Fatal(err)
	}
	c, _ := p.c.Upload(tt)
	return g, c
}

// table uploads a 2-D parameter; the CPU gets it rounded to the dtype.
func (p *pair) table(rows, cols int, v []float32) (backend.Weight, backend.Weight) {
	g, err := p.g.Upload(tensor.FromFloat32("t", []int{rows, cols}, v))
	if err != nil {
		p.t.Fatal(err)
	}
	c, _ := p.c.Upload(tensor.FromFloat32("t", []int{rows, cols}, roundTo(p.dt, v)))
	return g, c
}

func (p *pair) matrix(out, in int, v []float32) (backend.Weight, backend.Weight) {
	d, _ := kernels.NewDense(out, in, v)
	g, err := p.g.UploadMatrix(d)
	if err != nil {
		p.t.Fatal(err)
	}
	dr, _ := kernels.NewDense(out, in, roundTo(p.dt, v))
	c, _ := p.c.UploadMatrix(dr)
	return g, c
}

// linearWeights draws W [out×in] and, when bias, a bias [out] as the
// pair's GPU and CPU weights.
func (p *pair) linearWeights(r *rand.Rand, out, in int, bias bool) (wg, wc, bg, bc backend.Weight) {
	wg, wc = p.matrix(out, in, randSlice(r, out*in))
	if bias {
		bg, bc = p.vec(randSlice(r, out))
	}
	return wg, wc, bg, bc
}

// linearInput draws x [rows×in] for Linear. Where cuBLAS multiplies it
// (more than gemvMaxRows rows, BLAS on) it multiplies x narrowed to the
// dtype, so the CPU is given the same x.
func (p *pair) linearInput(r *rand.Rand, rows, in int, noBLAS bool) twin {
	xv := randSlice(r, rows*in)
	if rows > gemvMaxRows && !noBLAS && p.g.BLAS() != "" {
		xv = roundTo(p.dt, xv)
	}
	return p.tensor(rows, in, xv)
}

func (p *pair) expect(name string, t twin, tol float64) {
	p.t.Helper()
	got, want := p.read(t)
	if e := testref.RelErr(got, want); e > tol || math.IsNaN(e) {
		p.t.Errorf("%s (%s): relative error %.3g > %.3g", name, p.dt, e, tol)
	}
}

func TestDataMovement(t *testing.T) {
	for _, dt := range dtypes {
		p := newPair(t, dt, false)
		r := rand.New(rand.NewPCG(1, 2))
		v := randSlice(r, 6*5)
		a := p.tensor(6, 5, v)
		got, _ := p.read(a)
		if testref.RelErr(got, v) != 0 {
			t.Fatalf("%s: write/read round trip changed values", dt)
		}
		view := twin{p.g.View(a.g, 2, 4), p.c.View(a.c, 2, 4)}
		p.expect("view", view, 0)
		z := p.tensor(3, 7, nil)
		got, _ = p.read(z)
		for _, x := range got {
			if x != 0 {
				t.Fatalf("%s: new tensor not zeroed: %v", dt, got)
			}
		}
	}
}

func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, dt := range dtypes {
		p := newPair(t, dt, false)
		for _, shape := range [][2]int{{1, 7}, {5, 77}, {3, 4096}} {
			rows, cols := shape[0], shape[1]
			n := rows * cols
			a, b := p.tensor(rows, cols, randSlice(r, n)), p.tensor(rows, cols, randSlice(r, n))
			d := p.tensor(rows, cols, nil)
			p.g.Add(d.g, a.g, b.g)
			p.c.Add(d.c, a.c, b.c)
			p.expect("add", d, 1e-7)
			p.g.SwiGLU(d.g, a.g, b.g)
			p.c.SwiGLU(d.c, a.c, b.c)
			p.expect("swiglu", d, 1e-6)
			p.g.Add(a.g, a.g, b.g) // aliasing
			p.c.Add(a.c, a.c, b.c)
			p.expect("add in place", a, 1e-7)
			p.g.ReLU(a.g)
			p.c.ReLU(a.c)
			p.expect("relu", a, 0)
			p.g.GELU(b.g)
			p.c.GELU(b.c)
			p.expect("gelu", b, 1e-6)
		}
		src := p.tensor(5, 40, randSlice(r, 200))
		dst := p.tensor(5, 13, nil)
		p.g.CopyCols(dst.g, src.g, 7)
		p.c.CopyCols(dst.c, src.c, 7)
		p.expect("copy cols", dst, 0)
	}
}

func TestNorms(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, dt := range dtypes {
		p := newPair(t, dt, false)
		for _, cols := range []int{8, 33, 4096} {
			rows := 3
			x := p.tensor(rows, cols, randSlice(r, rows*cols))
			h := p.tensor(rows, cols, randSlice(r, rows*cols))
			gg, gc := p.vec(randSlice(r, cols))
			bg, bc := p.vec(randSlice(r, cols))
			d := p.tensor(rows, cols, nil)
			p.g.RMSNorm(d.g, x.g, gg, 1e-5)
			p.c.RMSNorm(d.c, x.c, gc, 1e-5)
			p.expect(fmt.Sprintf("rmsnorm %d", cols), d, 2e-6)
			p.g.LayerNorm(d.g, x.g, gg, bg, 1e-5)
			p.c.LayerNorm(d.c, x.c, gc, bc, 1e-5)
			p.expect(fmt.Sprintf("layernorm %d", cols), d, 2e-6)
			p.g.LayerNorm(d.g, x.g, gg, nil, 1e-5)
			p.c.LayerNorm(d.c, x.c, gc, nil, 1e-5)
			p.expect(fmt.Sprintf("layernorm %d without beta", cols), d, 2e-6)
			// The fused residual add + norm against Add then RMSNorm.
			p.g.AddRMSNorm(d.g, x.g, h.g, gg, 1e-6)
			p.c.Add(x.c, x.c, h.c)
			p.c.RMSNorm(d.c, x.c, gc, 1e-6)
			p.expect(fmt.Sprintf("add+rmsnorm %d: norm", cols), d, 2e-6)
			p.expect(fmt.Sprintf("add+rmsnorm %d: residual", cols), x, 1e-7)
			p.g.RMSNorm(x.g, x.g, gg, 1e-5) // in place
			p.c.RMSNorm(x.c, x.c, gc, 1e-5)
			p.expect("rmsnorm in place", x, 2e-6)
		}
	}
}

func TestEmbeddingAndRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, dt := range dtypes {
		p := newPair(t, dt, false)
		vocab, cols := 50, 24
		tg, tc := p.table(vocab, cols, randSlice(r, vocab*cols))
		ids := []int{3, 0, 49, 3, 17}
		d := p.tensor(len(ids), cols, nil)
		p.g.Embedding(d.g, tg, ids)
		p.c.Embedding(d.c, tc, ids)
		p.expect("embedding", d, 0)
		p.g.AddRows(d.g, tg, 40)
		p.c.AddRows(d.c, tc, 40)
		p.expect("add rows", d, 1e-7)
	}
}

func TestRoPE(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, dt := range dtypes {
		p := newPair(t, dt, false)
		for _, c := range []struct {
			rows, heads, hd, half, pos0 int
			interleaved                 bool
			scale                       float32
		}{
			{1, 4, 16, 8, 0, false, 1},
			{3, 4, 16, 8, 1000, false, 1},
			{3, 2, 16, 4, 5, true, 1}, // ChatGLM: rotary on half of each head, interleaved pairs
			{2, 3, 8, 2, 7, false, 0.8},
			{5, 32, 128, 64, 4090, false, 1},
		} {
			inv := make([]float32, c.half)
			for i := range inv {
				inv[i] = float32(1 / math.Pow(10000, float64(2*i)/float64(2*c.half)))
			}
			rope := &backend.Rope{InvFreq: inv, Interleaved: c.interleaved, Scale: c.scale}
			x := p.tensor(c.rows, c.heads*c.hd, randSlice(r, c.rows*c.heads*c.hd))
			p.g.RoPE(x.g, c.heads, c.hd, c.pos0, rope)
			p.c.RoPE(x.c, c.heads, c.hd, c.pos0, rope)
			p.expect(fmt.Sprintf("rope %+v", c), x, 1e-6)
		}
	}
}

func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, noBLAS := range []bool{false, true} {
		for _, dt := range dtypes {
			p := newPair(t, dt, noBLAS)
			for _, c := range []struct {
				out, in int
				bias    bool
			}{{37, 64, false}, {37, 64, true}, {40, 33, true}, {300, 128, false}, {9, 8, false}} {
				wg, wc, bg, bc := p.linearWeights(r, c.out, c.in, c.bias)
				for _, rows := range []int{1, 2, 3, 4, 5, 17, 70} {
					x := p.linearInput(r, rows, c.in, noBLAS)
					y := p.tensor(rows, c.out, nil)
					rs := []int{p.g.gemvR}
					if rows <= gemvMaxRows {
						rs = []int{1, 2, 4}
					}
					for _, rpw := range rs {
						saved := p.g.gemvR
						p.g.gemvR = rpw
						p.g.Linear(y.g, x.g, wg, bg)
						p.g.gemvR = saved
						p.c.Linear(y.c, x.c, wc, bc)
						p.expect(fmt.Sprintf("linear %d×%d bias=%v rows=%d r=%d noBLAS=%v", c.out, c.in, c.bias, rows, rpw, noBLAS), y, 2e-6)
					}
				}
			}
		}
	}
}

// attentionCase fills a KV cache through StoreKV (in two chunks) and runs
// attention for rows queries at pos0.
type attentionCase struct{ rows, pos0, heads, kvHeads, hd int }

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	saved := attnScoreBytes
	defer func() { attnScoreBytes = saved }()
	cases := []attentionCase{
		{1, 0, 1, 1, 4},
		{1, 17, 4, 1, 16},    // MQA decode
		{5, 0, 4, 2, 8},      // GQA, small prefill (split kernel)
		{3, 9, 6, 3, 10},     // chunk after a prefix, odd head dim
		{1, 1500, 16, 2, 64}, // long context: chunks capped at 1024 keys
		{1, 300, 2, 2, 128},  // decode split over many chunks
		{20, 5, 4, 2, 16},    // GEMM path (cuBLAS) after a prefix
		{40, 0, 8, 8, 32},    // GEMM path, MHA
	}
	for _, noBLAS := range []bool{false, true} {
		for _, dt := range dtypes {
			p := newPair(t, dt, noBLAS)
			for _, c := range cases {
				for _, chunked := range []bool{false, true} {
					if chunked && (noBLAS || c.rows < attnGEMMMinRows) {
						continue
					}
					attnScoreBytes = saved
					if chunked {
						attnScoreBytes = int64(4 * c.heads * (c.pos0 + c.rows) * 7) // 7 query rows per pass
					}
					testAttention(t, p, r, c, chunked)
				}
			}
		}
	}
}

func testAttention(t *testing.T, p *pair, r *rand.Rand, c attentionCase, chunked bool) {
	t.Helper()
	total := c.pos0 + c.rows
	width, kvDim := c.heads*c.hd, c.kvHeads*c.hd
	kv := []twin{p.tensor(total, kvDim, nil), p.tensor(total, kvDim, nil)}
	kvals, vvals := randSlice(r, total*kvDim), randSlice(r, total*kvDim)
	const layers, layer = 2, 1
	cg, cc := p.g.NewKVCache(layers, total+3, kvDim), p.c.NewKVCache(layers, total+3, kvDim)
	// The GPU stores the cache in the dtype: the CPU gets rounded values.
	p.g.Write(kv[0].g, kvals)
	p.g.Write(kv[1].g, vvals)
	p.c.Write(kv[0].c, roundTo(p.dt, kvals))
	p.c.Write(kv[1].c, roundTo(p.dt, vvals))
	split := total / 2
	for _, rng := range [][2]int{{0, split}, {split, total}} {
		if rng[0] == rng[1] {
			continue
		}
		p.g.StoreKV(cg, layer, rng[0], p.g.View(kv[0].g, rng[0], rng[1]), p.g.View(kv[1].g, rng[0], rng[1]))
		p.c.StoreKV(cc, layer, rng[0], p.c.View(kv[0].c, rng[0], rng[1]), p.c.View(kv[1].c, rng[0], rng[1]))
	}
	qv := randSlice(r, c.rows*width)
	gemm := c.rows >= attnGEMMMinRows && p.g.BLAS() != ""
	tol := 1e-5
	if gemm {
		qv = roundTo(p.dt, qv) // narrowed for the GEMM; probabilities too, hence the tolerance
		tol = map[dtype]float64{f32: 1e-5, f16: 2e-3, bf16: 1.5e-2}[p.dt]
	}
	q := p.tensor(c.rows, width, qv)
	out := p.tensor(c.rows, width, nil)
	scale := float32(1 / math.Sqrt(float64(c.hd)))
	p.g.Attention(out.g, q.g, cg, layer, c.pos0, c.heads, c.kvHeads, c.hd, scale)
	p.c.Attention(out.c, q.c, cc, layer, c.pos0, c.heads, c.kvHeads, c.hd, scale)
	p.expect(fmt.Sprintf("attention %+v gemm=%v chunked=%v", c, gemm, chunked), out, tol)
}

func TestSplitPlan(t *testing.T) {
	for _, c := range []struct{ rows, total, heads, sms int }{
		{1, 1, 32, 132}, {1, 100, 32, 132}, {1, 4096, 32, 132}, {1, 100000, 32, 132},
		{2048, 2048, 32, 132}, {1, 1500, 16, 4}, {7, 40, 1, 4},
	} {
		chunk, n := splitPlan(c.rows, c.total, c.heads, c.sms)
		if chunk < 1 || chunk > attnMaxChunk || n < 1 || (n-1)*chunk >= c.total || n*chunk < c.total {
			t.Errorf("%+v: chunk %d × %d splits does not cover the keys", c, chunk, n)
		}
		if c.rows*c.heads*n < 2*c.sms && chunk > attnMinChunk && n*chunk < c.total+chunk && n < ceilDiv(c.total, attnMinChunk) {
			t.Errorf("%+v: only %d blocks for %d SMs", c, c.rows*c.heads*n, c.sms)
		}
	}
}

// packed is a weight format the GPU has no kernels for.
type packed struct{}

func (packed) Dims() (int, int)                        { return 4, 8 }
func (packed) MulT(_, _ []float32, _ int, _ []float32) {}
func (packed) Bytes() int64                            { return 16 }
func (packed) Format() string                          { return "int4-g128" }

func TestUploadErrors(t *testing.T) {
	g := gpu(t, f16, false)
	if _, err := g.UploadMatrix(packed{}); err == nil || !strings.Contains(err.Error(), "int4-g128") {
		t.Errorf("packed weight: err = %v, want one naming the format", err)
	}
	if _, err := g.Upload(tensor.FromFloat32("x", []int{2, 2, 2}, make([]float32, 8))); err == nil {
		t.Error("3-D tensor: no error")
	}
	if _, err := New(0, Options{DType: "int8"}); !errors.Is(err, ErrBadOption) {
		t.Error("dtype int8: no error")
	}
	if _, err := New(0, Options{GEMVRowsPerWarp: 3}); !errors.Is(err, ErrBadOption) {
		t.Error("GEMVRowsPerWarp 3: no error")
	}
}

// TestKernelList checks that the backend loads exactly the kernels that
// kernels.def (generated from the PTX) lists.
func TestKernelList(t *testing.T) {
	var def []string
	for _, line := range strings.Split(cudakernels.Def, "\n") {
		if strings.HasPrefix(line, "X(") && strings.HasSuffix(line, ")") {
			def = append(def, line[2:len(line)-1])
		}
	}
	used := map[string]bool{}
	for _, dt := range dtypes {
		for _, kvdt := range dtypes {
			var k kernelSet
			for name := range k.names(dt, kvdt) {
				used[name] = true
			}
		}
	}
	var loaded []string
	for n := range used {
		loaded = append(loaded, n)
	}
	sort.Strings(def)
	sort.Strings(loaded)
	if strings.Join(def, ",") != strings.Join(loaded, ",") {
		t.Errorf("kernels.def and the backend disagree:\ndef:    %v\nloaded: %v", def, loaded)
	}
}

// readCache returns positions [0, n) of a layer's cached keys (or values)
// as f32.
func readCache(t *testing.T, g *Backend, buf *buffer, n int) []float32 {
	raw := make([]byte, int64(n)*g.kvdt.size())
	if len(raw) == 0 {
		return nil
	}
	if err := g.d.dtoh(unsafe.Pointer(&raw[0]), buf.p, int64(len(raw))); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, n)
	for i := range out {
		switch g.kvdt {
		case f32:
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case f16:
			out[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		default:
			out[i] = tensor.BF16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
	return out
}

// TestRoPEStoreKV checks the fused kernel against RoPE, RoPE and StoreKV on
// the CPU: the rotated q and k, and the cache contents (rounded to the
// cache dtype).
func TestRoPEStoreKV(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, dt := range dtypes {
		p := newPair(t, dt, false)
		for _, c := range []struct {
			rows, pos0, heads, kvHeads, hd, half int
			interleaved                          bool
		}{
			{1, 0, 4, 2, 16, 8, false},
			{3, 7, 4, 4, 8, 4, false},
			{5, 2, 4, 2, 16, 4, true}, // ChatGLM: half of each head rotated, interleaved
			{1, 300, 32, 8, 128, 64, false},
		} {
			inv := make([]float32, c.half)
			for i := range inv {
				inv[i] = float32(1 / math.Pow(10000, float64(2*i)/float64(2*c.half)))
			}
			rope := &backend.Rope{InvFreq: inv, Interleaved: c.interleaved, Scale: 1}
			kvDim := c.kvHeads * c.hd
			q := p.tensor(c.rows, c.heads*c.hd, randSlice(r, c.rows*c.heads*c.hd))
			k := p.tensor(c.rows, kvDim, randSlice(r, c.rows*kvDim))
			v := p.tensor(c.rows, kvDim, randSlice(r, c.rows*kvDim))
			maxLen := c.pos0 + c.rows + 2
			cg := p.g.NewKVCache(2, maxLen, kvDim).(*kvCache)
			p.g.RoPEStoreKV(q.g, k.g, v.g, cg, 1, c.heads, c.kvHeads, c.hd, c.pos0, rope)
			p.c.RoPE(q.c, c.heads, c.hd, c.pos0, rope)
			p.c.RoPE(k.c, c.kvHeads, c.hd, c.pos0, rope)
			name := fmt.Sprintf("rope+store %+v", c)
			p.expect(name+": q", q, 1e-6)
			p.expect(name+": k", k, 1e-6)
			_, kw := p.read(k)
			_, vw := p.read(v)
			off := c.pos0 * kvDim
			kc := readCache(t, p.g, cg.k[1], (c.pos0+c.rows)*kvDim)[off:]
			vc := readCache(t, p.g, cg.v[1], (c.pos0+c.rows)*kvDim)[off:]
			if e := testref.RelErr(kc, roundTo(dt, kw)); e > 1e-6 {
				t.Errorf("%s (%s): cached keys: relative error %.3g", name, dt, e)
			}
			if e := testref.RelErr(vc, roundTo(dt, vw)); e != 0 {
				t.Errorf("%s (%s): cached values: relative error %.3g", name, dt, e)
			}
		}
	}
}

// TestLinearReusesConversion: consecutive projections of one input share
// its narrowed copy, and any write to the input in between is seen.
func TestLinearReusesConversion(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, dt := range dtypes {
		p := newPair(t, dt, false)
		const rows, in, out = 20, 32, 24
		xv := roundTo(dt, randSlice(r, rows*in))
		x := p.tensor(rows, in, xv)
		w1g, w1c := p.matrix(out, in, randSlice(r, out*in))
		w2g, w2c := p.matrix(out, in, randSlice(r, out*in))
		y := p.tensor(rows, out, nil)
		gen := p.g.gen
		p.g.Linear(y.g, x.g, w1g, nil)
		p.c.Linear(y.c, x.c, w1c, nil)
		p.expect("first projection", y, 2e-6)
		p.g.Linear(y.g, x.g, w2g, nil)
		p.c.Linear(y.c, x.c, w2c, nil)
		p.expect("second projection", y, 2e-6)
		if launches := p.g.gen - gen; dt != f32 && p.g.BLAS() != "" && launches != 1 {
			t.Errorf("%s: %d conversions for two projections of one input, want 1", dt, launches)
		}
		// A write to x (here by the backend's own Add) must be seen.
		x2v := roundTo(dt, randSlice(r, rows*in))
		x2 := p.tensor(rows, in, x2v)
		p.g.Add(x.g, x2.g, p.g.NewTensor(rows, in))
		p.c.Add(x.c, x2.c, p.c.NewTensor(rows, in))
		p.g.Linear(y.g, x.g, w2g, nil)
		p.c.Linear(y.c, x.c, w2c, nil)
		p.expect("projection after a write", y, 2e-6)
		p.g.Write(x.g, xv)
		p.c.Write(x.c, xv)
		p.g.Linear(y.g, x.g, w2g, nil)
		p.c.Linear(y.c, x.c, w2c, nil)
		p.expect("projection after Write", y, 2e-6)
	}
}

// TestLinearAdd checks dst += x·Wᵀ + bias against Linear then Add on the
// CPU, on the GEMV, cuBLAS and own-GEMM paths.
func TestLinearAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, noBLAS := range []bool{false, true} {
		for _, dt := range dtypes {
			p := newPair(t, dt, noBLAS)
			for _, c := range []struct {
				out, in int
				bias    bool
			}{{48, 64, false}, {40, 33, true}} {
				wg, wc, bg, bc := p.linearWeights(r, c.out, c.in, c.bias)
				for _, rows := range []int{1, 3, 20} {
					x := p.linearInput(r, rows, c.in, noBLAS)
					res := p.tensor(rows, c.out, randSlice(r, rows*c.out))
					h := p.c.NewTensor(rows, c.out)
					p.g.LinearAdd(res.g, x.g, wg, bg)
					p.c.Linear(h, x.c, wc, bc)
					p.c.Add(res.c, res.c, h)
					p.expect(fmt.Sprintf("linear+add %d×%d bias=%v rows=%d noBLAS=%v", c.out, c.in, c.bias, rows, noBLAS), res, 2e-6)
				}
			}
		}
	}
}
