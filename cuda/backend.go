//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// Options configure New.
type Options struct {
	// DType is the storage type of weights, embedding tables and the KV
	// cache: "f16" (the default), "bf16" or "f32". Activations are f32
	// whatever it is, and all accumulation is f32.
	DType string
	// NoBLAS makes prefill use the engine's own GEMM and attention kernels
	// instead of cuBLAS (slower; for checking, and the automatic fallback
	// when no cuBLAS library is found).
	NoBLAS bool
	// KVDType is the storage type of the KV cache ("" means DType). PyTorch
	// keeps the cache in the model dtype; f32 (or f16 under bf16) trades
	// cache bandwidth for accuracy.
	KVDType string
	// GEMVRowsPerWarp picks the batch-1 GEMV variant: 1, 2 or 4 output rows
	// per warp (0 means 2). The benchmarks compare them.
	GEMVRowsPerWarp int
}

// Backend runs the engine's forward-pass operations on one NVIDIA GPU (or,
// in the cudaemu build, on the CPU emulator of its kernels). It implements
// backend.Backend, plus three fused operations for the decode hot path that
// models may use when present (LinearAdd, AddRMSNorm, RoPEStoreKV). All
// work goes to one stream in call order; Read, the only operation whose
// result the host sees, waits for it. Methods are safe to call from any
// goroutine (they serialise).
type Backend struct {
	d       driver
	dt      dtype
	kvdt    dtype
	opts    Options
	pool    *pool
	k       kernelSet
	sms     int
	gemvR   int
	blasLib string

	mu      sync.Mutex
	gen     uint64 // counts launches and writes: any of them may change a tensor
	conv    convCache
	args    []uint64
	ids     []int32
	ropes   map[*float32]*buffer
	scratch map[string]*buffer
	closed  bool
}

var _ backend.Backend = (*Backend)(nil)

// New opens GPU ordinal (0 is the first) with the given options. It fails
// when no device or driver is present, when the kernel module does not load,
// or on a bad option; a missing cuBLAS is not an error (NoBLAS is implied
// and BLAS reports it).
func New(ordinal int, opts Options) (*Backend, error) {
	dt, err := parseDType(opts.DType)
	if err != nil {
		return nil, err
	}
	kvdt := dt
	if opts.KVDType != "" {
		if kvdt, err = parseDType(opts.KVDType); err != nil {
			return nil, err
		}
	}
	switch opts.GEMVRowsPerWarp {
	case 0:
		opts.GEMVRowsPerWarp = 2
	case 1, 2, 4:
	default:
		return nil, fmt.Errorf("cuda: GEMVRowsPerWarp %d: %w: want 1, 2 or 4", opts.GEMVRowsPerWarp, ErrBadOption)
	}
	d, err := openDriver(ordinal)
	if err != nil {
		return nil, err
	}
	k, err := loadKernels(d, dt, kvdt)
	if err != nil {
		d.close()
		return nil, err
	}
	b := &Backend{
		d: d, dt: dt, kvdt: kvdt, opts: opts, pool: newPool(d), k: k, sms: d.smCount(), gemvR: opts.GEMVRowsPerWarp,
		args: make([]uint64, 0, 32), ropes: map[*float32]*buffer{}, scratch: map[string]*buffer{},
	}
	if !opts.NoBLAS {
		b.blasLib = d.blas()
	}
	return b, nil
}

// Close releases every device allocation of the backend and the device
// context; tensors and weights must not be used afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.d.sync()
	b.pool.close()
	if e := b.d.close(); err == nil {
		err = e
	}
	return err
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// DeviceName describes the device, e.g. "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB)".
func (b *Backend) DeviceName() string { return b.d.deviceName() }

// DType returns the storage dtype of weights and tables.
func (b *Backend) DType() string { return b.dt.String() }

// KVDType returns the storage dtype of the KV cache.
func (b *Backend) KVDType() string { return b.kvdt.String() }

// BLAS names the GEMM library used for prefill ("" when the engine's own
// kernels are used).
func (b *Backend) BLAS() string { return b.blasLib }

// Synchronize waits for all queued work and reports an asynchronous kernel
// failure, if any.
func (b *Backend) Synchronize() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.d.sync()
}

// MemInfo returns the device's free and total memory and the bytes this
// backend holds (in use and cached for reuse).
func (b *Backend) MemInfo() (free, total, inUse, cached int64, err error) {
	free, total, err = b.d.memInfo()
	inUse, cached = b.pool.stats()
	return
}

// ---- tensors and weights ------------------------------------------------------

// Tensor is a device activation: a row-major float32 matrix.
type Tensor struct {
	rows, cols int
	p          devPtr
	buf        *buffer // keeps the allocation alive (views share it)
}

// Rows returns the number of rows.
func (t *Tensor) Rows() int { return t.rows }

// Cols returns the number of columns.
func (t *Tensor) Cols() int { return t.cols }

// Weight is a parameter on the device: a vector (f32), a table or a linear
// layer's matrix (in the compute dtype).
type Weight struct {
	shape []int
	dt    dtype
	p     devPtr
	buf   *buffer
}

// Shape returns the parameter's logical shape ([out, in] for matrices).
func (w *Weight) Shape() []int { return w.shape }

// Bytes returns the device memory the parameter occupies.
func (w *Weight) Bytes() int64 {
	n := int64(1)
	for _, s := range w.shape {
		n *= int64(s)
	}
	return n * w.dt.size()
}

func (b *Backend) fail(op string, err error) {
	panic(fmt.Sprintf("cuda: %s: %v", op, err))
}

func (b *Backend) check(op string, err error) {
	if err != nil {
		b.fail(op, err)
	}
}

func tens(t backend.Tensor) *Tensor { return t.(*Tensor) }

func weight(w backend.Weight) *Weight {
	if w == nil {
		return nil
	}
	return w.(*Weight)
}

func wptr(w backend.Weight) devPtr {
	if w == nil {
		return 0
	}
	return w.(*Weight).p
}

// alloc returns a buffer or panics with a clear out-of-memory message (for
// the methods of backend.Backend, which cannot return errors).
func (b *Backend) alloc(what string, n int64) *buffer {
	buf, err := b.pool.get(n)
	if err != nil {
		b.fail(what, b.oom(n, err))
	}
	return buf
}

// oom explains an allocation failure with the device's memory state.
func (b *Backend) oom(n int64, err error) error {
	free, total, e := b.d.memInfo()
	if e != nil {
		return fmt.Errorf("allocating %s: %w", human(n), err)
	}
	inUse, _ := b.pool.stats()
	return fmt.Errorf("allocating %s: %w (%s free of %s on %s; this backend holds %s)",
		human(n), err, human(free), human(total), b.d.deviceName(), human(inUse))
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d B", n)
}

// NewTensor allocates a zeroed rows×cols activation.
func (b *Backend) NewTensor(rows, cols int) backend.Tensor {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := int64(rows) * int64(cols) * 4
	buf := b.alloc("new tensor", n)
	b.check("new tensor", b.d.zero(buf.p, n))
	return &Tensor{rows: rows, cols: cols, p: buf.p, buf: buf}
}

// View returns rows [r0, r1) of t without copying.
func (b *Backend) View(t backend.Tensor, r0, r1 int) backend.Tensor {
	m := tens(t)
	if r0 < 0 || r1 < r0 || r1 > m.rows {
		panic(fmt.Sprintf("cuda: view [%d, %d) of %d rows", r0, r1, m.rows))
	}
	return &Tensor{rows: r1 - r0, cols: m.cols, p: m.p + devPtr(r0*m.cols*4), buf: m.buf}
}

// Upload copies a checkpoint tensor to the device: a vector (1-D) as f32,
// a table (2-D) in the compute dtype.
func (b *Backend) Upload(t *tensor.Tensor) (backend.Weight, error) {
	v, err := t.Float32()
	if err != nil {
		return nil, err
	}
	dt := f32
	switch len(t.Shape) {
	case 1:
	case 2:
		dt = b.dt
	default:
		return nil, fmt.Errorf("cuda: tensor %q: shape %v: want a vector or a table", t.Name, t.Shape)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	buf, err := b.upload(v, dt)
	if err != nil {
		return nil, fmt.Errorf("cuda: tensor %q %v: %w", t.Name, t.Shape, err)
	}
	return &Weight{shape: append([]int(nil), t.Shape...), dt: dt, p: buf.p, buf: buf}, nil
}

// UploadMatrix copies a linear layer's weight to the device in the compute
// dtype. Only dense float32 weights (*kernels.Dense) are supported so far;
// packed formats (quantized, 2:4) return an error naming the format.
func (b *Backend) UploadMatrix(m kernels.Matrix) (backend.Weight, error) {
	d, ok := m.(*kernels.Dense)
	if !ok {
		return nil, fmt.Errorf("cuda: weight format %q (%T) has no GPU kernels yet; run it with --device cpu", m.Format(), m)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	buf, err := b.upload(d.W, b.dt)
	if err != nil {
		return nil, fmt.Errorf("cuda: weight %d×%d (%s): %w; the model does not fit in %s on this GPU (try --dtype f16, a smaller model, or --device cpu)",
			d.Out, d.In, b.dt, err, b.dt)
	}
	return &Weight{shape: []int{d.Out, d.In}, dt: b.dt, p: buf.p, buf: buf}, nil
}

// uploadChunk is how many values are converted on the host per copy.
const uploadChunk = 1 << 22

// upload converts v to dt on the host, a chunk at a time, and copies it to
// a new device buffer.
func (b *Backend) upload(v []float32, dt dtype) (*buffer, error) {
	n := int64(len(v))
	buf, err := b.pool.get(n * dt.size())
	if err != nil {
		return nil, b.oom(n*dt.size(), err)
	}
	if n == 0 {
		return buf, nil
	}
	if dt == f32 {
		return buf, b.d.htod(buf.p, unsafe.Pointer(&v[0]), n*4)
	}
	tmp := make([]uint16, min(n, uploadChunk))
	conv := tensor.F32ToF16
	if dt == bf16 {
		conv = tensor.F32ToBF16
	}
	for off := int64(0); off < n; off += uploadChunk {
		c := min(n-off, uploadChunk)
		src, dst := v[off:off+c], tmp[:c]
		kernels.ParallelFor(int(c), 1<<16, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dst[i] = conv(src[i])
			}
		})
		if err := b.d.htod(buf.p+devPtr(off*2), unsafe.Pointer(&dst[0]), c*2); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// Read copies t to host memory, waiting for the work that produces it.
func (b *Backend) Read(dst []float32, t backend.Tensor) {
	m := tens(t)
	n := m.rows * m.cols
	if len(dst) < n {
		panic(fmt.Sprintf("cuda: read of %d×%d into %d floats", m.rows, m.cols, len(dst)))
	}
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.check("read", b.d.dtoh(unsafe.Pointer(&dst[0]), m.p, int64(n)*4))
}

// Write copies host memory into t.
func (b *Backend) Write(t backend.Tensor, src []float32) {
	m := tens(t)
	n := m.rows * m.cols
	if len(src) < n {
		panic(fmt.Sprintf("cuda: write of %d floats into %d×%d", len(src), m.rows, m.cols))
	}
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.check("write", b.d.htod(m.p, unsafe.Pointer(&src[0]), int64(n)*4))
}

// ---- launching ------------------------------------------------------------------

// convCache remembers the last activation Linear narrowed to the compute
// dtype for cuBLAS, so that consecutive projections of the same input (q, k
// and v; gate and up) convert it once. It is valid while gen is unchanged.
type convCache struct {
	x   devPtr
	n   int
	gen uint64
}

// launch enqueues fn; the caller holds b.mu.
func (b *Backend) launch(name string, fn uintptr, grid, block dim3, args ...uint64) {
	b.gen++
	b.launchKeep(name, fn, grid, block, args...)
}

// launchKeep is launch for a kernel that writes nothing a cached conversion
// was made from.
func (b *Backend) launchKeep(name string, fn uintptr, grid, block dim3, args ...uint64) {
	b.args = append(b.args[:0], args...)
	if err := b.d.launch(fn, grid, block, b.args); err != nil {
		b.fail(name, err)
	}
}

// elementwise returns a grid-stride launch shape for n elements.
func elementwise(n int) (dim3, dim3) {
	return dim3{max(1, min(ceilDiv(n, 256), 1<<16)), 1, 1}, dim3{256, 1, 1}
}

// rowsGrid covers cols columns (x) and rows rows (y, grid-strided past 65535).
func rowsGrid(rows, cols int) (dim3, dim3) {
	return dim3{max(1, min(ceilDiv(cols, 256), 1<<16)), max(1, min(rows, 65535)), 1}, dim3{256, 1, 1}
}

// normThreads picks a block size for one row of cols values.
func normThreads(cols int) int { return min(1024, max(32, (cols/4+31)&^31)) }

func sameShape(op string, ts ...*Tensor) {
	for _, t := range ts[1:] {
		if t.rows != ts[0].rows || t.cols != ts[0].cols {
			panic(fmt.Sprintf("cuda: %s: shapes %d×%d and %d×%d", op, ts[0].rows, ts[0].cols, t.rows, t.cols))
		}
	}
}

// ---- operations -----------------------------------------------------------------

// Embedding sets dst[i] = table[ids[i]].
func (b *Backend) Embedding(dst backend.Tensor, table backend.Weight, ids []int) {
	d, tb := tens(dst), weight(table)
	if len(ids) != d.rows || len(tb.shape) != 2 || tb.shape[1] != d.cols {
		panic(fmt.Sprintf("cuda: embedding of %d ids from %v into %d×%d", len(ids), tb.shape, d.rows, d.cols))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids = b.ids[:0]
	for _, id := range ids {
		if id < 0 || id >= tb.shape[0] {
			panic(fmt.Sprintf("cuda: embedding: id %d outside [0, %d)", id, tb.shape[0]))
		}
		b.ids = append(b.ids, int32(id))
	}
	if len(ids) == 0 {
		return
	}
	p := b.scratchBuf("ids", int64(len(ids))*4)
	b.check("embedding", b.d.htod(p, unsafe.Pointer(&b.ids[0]), int64(len(ids))*4))
	g, bl := rowsGrid(d.rows, d.cols)
	b.launch("embedding", b.k.embedding, g, bl, argP(d.p), argP(tb.p), argP(p), argI(d.rows), argI(d.cols))
}

// AddRows adds table rows first, first+1, … to dst's rows.
func (b *Backend) AddRows(dst backend.Tensor, table backend.Weight, first int) {
	d, tb := tens(dst), weight(table)
	if len(tb.shape) != 2 || tb.shape[1] != d.cols || first < 0 || first+d.rows > tb.shape[0] {
		panic(fmt.Sprintf("cuda: add rows %d… of %v to %d×%d", first, tb.shape, d.rows, d.cols))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	g, bl := rowsGrid(d.rows, d.cols)
	b.launch("add rows", b.k.addRows, g, bl, argP(d.p), argP(tb.p), argI(first), argI(d.rows), argI(d.cols))
}

// gemvMaxRows is the largest batch the GEMV kernels take; more rows go
// through GEMM.
const gemvMaxRows = 4

// Linear computes dst = x·Wᵀ (+ bias). Up to 4 rows (decode) it runs the
// memory-bound GEMV kernel, which reads each weight once; more rows
// (prefill) go through cuBLAS with x narrowed to the compute dtype (or the
// engine's tiled GEMM kernel without cuBLAS).
func (b *Backend) Linear(dst, x backend.Tensor, w, bias backend.Weight) {
	b.linear(dst, x, w, bias, false)
}

// LinearAdd computes dst += x·Wᵀ (+ bias): an output projection and the
// residual connection after it in one pass (the GEMV adds into dst as it
// writes; cuBLAS accumulates with beta = 1). dst must not overlap x. (An
// optional extension of backend.Backend, like AddRMSNorm.)
func (b *Backend) LinearAdd(dst, x backend.Tensor, w, bias backend.Weight) {
	d, xm := tens(dst), tens(x)
	if d.p < xm.p+devPtr(xm.rows*xm.cols*4) && xm.p < d.p+devPtr(d.rows*d.cols*4) {
		panic("cuda: linear+add: dst overlaps x")
	}
	b.linear(dst, x, w, bias, true)
}

func (b *Backend) linear(dst, x backend.Tensor, w, bias backend.Weight, accumulate bool) {
	d, xm, wm := tens(dst), tens(x), weight(w)
	if len(wm.shape) != 2 || xm.cols != wm.shape[1] || d.cols != wm.shape[0] || d.rows != xm.rows {
		panic(fmt.Sprintf("cuda: linear %v on [%d,%d] into [%d,%d]", wm.shape, xm.rows, xm.cols, d.rows, d.cols))
	}
	out, in := wm.shape[0], wm.shape[1]
	rows := xm.rows
	if rows == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bp := wptr(bias)
	switch {
	case rows <= gemvMaxRows:
		b.gemv(d.p, wm.p, xm.p, bp, rows, out, in, b.gemvR, accumulate)
	case b.blasLib != "":
		xp := xm.p
		if b.dt != f32 {
			n := rows * in
			xp = b.scratchBuf("xconv", int64(n)*b.dt.size())
			if b.conv != (convCache{xm.p, n, b.gen}) {
				g, bl := elementwise(n)
				b.launch("linear: convert", b.k.convert, g, bl, argP(xp), argP(xm.p), argI(n))
				b.conv = convCache{xm.p, n, b.gen}
			}
		}
		beta := float32(0)
		if accumulate {
			beta = 1
		}
		b.gemm("linear", &gemmCall{transA: true, m: out, n: rows, k: in, alpha: 1, beta: beta, ab: b.dt,
			a: wm.p, lda: in, b: xp, ldb: in, c: d.p, ldc: out, batch: 1})
		overlap := d.p < xm.p+devPtr(rows*in*4) && xm.p < d.p+devPtr(rows*out*4)
		if overlap {
			b.gen++
		}
		if bp != 0 {
			g, bl := elementwise(rows * out)
			b.launchKeep("linear: bias", b.k.bias, g, bl, argP(d.p), argP(bp), argI(out), argI(rows*out))
		}
	default:
		b.launch("linear: gemm", b.k.gemm, dim3{ceilDiv(out, 64), ceilDiv(rows, 64), 1}, dim3{256, 1, 1},
			argP(d.p), argP(xm.p), argP(wm.p), argP(bp), argI(rows), argI(out), argI(in), argI(boolArg(accumulate)))
	}
}

// gemv launches y[rows×out] = x·Wᵀ + bias (added to y when accumulate) for
// rows ≤ gemvMaxRows with r output rows per warp (vectorised kernel when in
// is a multiple of 8).
func (b *Backend) gemv(y, w, x, bias devPtr, rows, out, in, r int, accumulate bool) {
	if in%8 == 0 {
		ri := map[int]int{1: 0, 2: 1, 4: 2}[r]
		b.launch("linear: gemv", b.k.gemv[rows-1][ri], dim3{ceilDiv(out, 8*r), 1, 1}, dim3{256, 1, 1},
			argP(y), argP(w), argP(x), argP(bias), argI(out), argI(in), argI(boolArg(accumulate)))
		return
	}
	b.launch("linear: gemv", b.k.gemvAny[rows-1], dim3{ceilDiv(out, 8), 1, 1}, dim3{256, 1, 1},
		argP(y), argP(w), argP(x), argP(bias), argI(out), argI(in), argI(boolArg(accumulate)))
}

func (b *Backend) gemm(op string, g *gemmCall) {
	if err := b.d.gemm(g); err != nil {
		b.fail(op, err)
	}
}

// scratchBuf returns a device buffer of at least n bytes kept under name and
// reused by later calls (grown by half again when too small). Work is
// stream-ordered, so reuse right after enqueueing is safe. Caller holds b.mu.
func (b *Backend) scratchBuf(name string, n int64) devPtr {
	s := b.scratch[name]
	if s != nil && s.size >= n {
		return s.p
	}
	size := n
	if s != nil {
		size = max(n, s.size+s.size/2)
	}
	buf := b.alloc(name, size)
	b.scratch[name] = buf
	return buf.p
}

// RMSNorm normalises each row (dst may be x).
func (b *Backend) RMSNorm(dst, x backend.Tensor, gamma backend.Weight, eps float32) {
	d, xm := tens(dst), tens(x)
	sameShape("rmsnorm", d, xm)
	b.rowNorm("rmsnorm", b.k.rmsnorm, d, argP(d.p), argP(xm.p), argP(wptr(gamma)), argF(eps))
}

// AddRMSNorm fuses the residual add before a norm: x += h, then
// dst = RMSNorm(x)·gamma — one pass over x instead of two launches.
// dst must not alias x or h. (An optional extension of backend.Backend:
// models can use it where they find it.)
func (b *Backend) AddRMSNorm(dst, x, h backend.Tensor, gamma backend.Weight, eps float32) {
	d, xm, hm := tens(dst), tens(x), tens(h)
	sameShape("add+rmsnorm", d, xm, hm)
	b.rowNorm("add+rmsnorm", b.k.addRMSNorm, d, argP(d.p), argP(xm.p), argP(hm.p), argP(wptr(gamma)), argF(eps))
}

// LayerNorm normalises each row (beta may be nil; dst may be x).
func (b *Backend) LayerNorm(dst, x backend.Tensor, gamma, beta backend.Weight, eps float32) {
	d, xm := tens(dst), tens(x)
	sameShape("layernorm", d, xm)
	b.rowNorm("layernorm", b.k.layernorm, d, argP(d.p), argP(xm.p), argP(wptr(gamma)), argP(wptr(beta)), argF(eps))
}

// rowNorm launches a row-normalising kernel fn(args..., cols) with one block
// per row of d (nothing for an empty d).
func (b *Backend) rowNorm(name string, fn uintptr, d *Tensor, args ...uint64) {
	if d.rows == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.launch(name, fn, dim3{d.rows, 1, 1}, dim3{normThreads(d.cols), 1, 1}, append(args, argI(d.cols))...)
}

// Add sets dst = a + b (dst may alias a or b).
func (b *Backend) Add(dst, a, c backend.Tensor) { b.binary("add", b.k.add, dst, a, c) }

// SwiGLU sets dst = silu(gate) ⊙ up.
func (b *Backend) SwiGLU(dst, gate, up backend.Tensor) { b.binary("swiglu", b.k.swiglu, dst, gate, up) }

// binary launches an elementwise kernel fn(dst, a, c, n) over same-shaped tensors.
func (b *Backend) binary(name string, fn uintptr, dst, a, c backend.Tensor) {
	d, am, cm := tens(dst), tens(a), tens(c)
	sameShape(name, d, am, cm)
	b.launchElementwise(name, fn, d.rows*d.cols, argP(d.p), argP(am.p), argP(cm.p))
}

// ReLU applies max(x, 0) in place.
func (b *Backend) ReLU(x backend.Tensor) { b.unary("relu", b.k.relu, tens(x)) }

// GELU applies the exact (erf) GELU in place.
func (b *Backend) GELU(x backend.Tensor) { b.unary("gelu", b.k.gelu, tens(x)) }

func (b *Backend) unary(name string, fn uintptr, x *Tensor) {
	b.launchElementwise(name, fn, x.rows*x.cols, argP(x.p))
}

// launchElementwise launches fn(args..., n) with one thread per element (nothing
// when n is 0).
func (b *Backend) launchElementwise(name string, fn uintptr, n int, args ...uint64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	g, bl := elementwise(n)
	b.launch(name, fn, g, bl, append(args, argI(n))...)
}

// CopyCols copies columns [col0, col0+dst.Cols()) of src into dst.
func (b *Backend) CopyCols(dst, src backend.Tensor, col0 int) {
	d, s := tens(dst), tens(src)
	if d.rows != s.rows || col0 < 0 || col0+d.cols > s.cols {
		panic(fmt.Sprintf("cuda: copy cols %d…%d of %d×%d into %d×%d", col0, col0+d.cols, s.rows, s.cols, d.rows, d.cols))
	}
	if d.rows*d.cols == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	g, bl := rowsGrid(d.rows, d.cols)
	b.launch("copy cols", b.k.copyCols, g, bl, argP(d.p), argP(s.p), argI(d.rows), argI(d.cols), argI(s.cols), argI(col0))
}

// RoPE rotates the heads of x in place; row i sits at position pos0+i.
func (b *Backend) RoPE(x backend.Tensor, heads, headDim, pos0 int, r *backend.Rope) {
	xm := tens(x)
	half := len(r.InvFreq)
	if xm.cols != heads*headDim || 2*half > headDim {
		panic(fmt.Sprintf("cuda: rope of %d heads × %d (rotary %d) on %d columns", heads, headDim, 2*half, xm.cols))
	}
	if xm.rows == 0 || half == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	inv := b.invFreq(r)
	g, bl := rowsGrid(xm.rows, heads*half)
	b.launch("rope", b.k.rope, g, bl, argP(xm.p), argP(inv), argI(xm.rows), argI(heads), argI(headDim), argI(half),
		argI(pos0), argI(boolArg(r.Interleaved)), argF(r.Scale))
}

func boolArg(v bool) int {
	if v {
		return 1
	}
	return 0
}

// invFreq returns r's inverse frequencies on the device, uploaded on first
// use. Caller holds b.mu.
func (b *Backend) invFreq(r *backend.Rope) devPtr {
	inv := b.ropes[&r.InvFreq[0]]
	if inv == nil {
		var err error
		if inv, err = b.upload(r.InvFreq, f32); err != nil {
			b.fail("rope", err)
		}
		b.ropes[&r.InvFreq[0]] = inv
	}
	return inv.p
}

// RoPEStoreKV is RoPE on q and k followed by StoreKV(c, layer, pos0, k, v),
// fused into one launch: the start of every attention layer, three kernels
// per layer and token otherwise. q [rows, heads·headDim] and k, v [rows,
// kvHeads·headDim] are rotated in place as RoPE does. (An optional extension
// of backend.Backend, like AddRMSNorm.)
func (b *Backend) RoPEStoreKV(q, k, v backend.Tensor, c backend.KVCache, layer, heads, kvHeads, headDim, pos0 int, r *backend.Rope) {
	qm, km, vm, cc := tens(q), tens(k), tens(v), c.(*kvCache)
	sameShape("rope+store", km, vm)
	half := len(r.InvFreq)
	if qm.rows != km.rows || qm.cols != heads*headDim || km.cols != kvHeads*headDim || cc.kvDim != km.cols ||
		2*half > headDim || pos0 < 0 || pos0+km.rows > cc.maxLen {
		panic(fmt.Sprintf("cuda: rope+store of q %d×%d, k/v %d×%d (heads %d/%d × %d, rotary %d) at %d into a cache of %d×%d",
			qm.rows, qm.cols, km.rows, km.cols, heads, kvHeads, headDim, 2*half, pos0, cc.maxLen, cc.kvDim))
	}
	if qm.rows == 0 {
		return
	}
	if half == 0 {
		b.StoreKV(c, layer, pos0, k, v)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	inv := b.invFreq(r)
	perRow := heads*half + kvHeads*half + kvHeads*(headDim-2*half) + km.cols
	g, bl := rowsGrid(qm.rows, perRow)
	b.launch("rope+store", b.k.ropeStore, g, bl, argP(qm.p), argP(km.p), argP(vm.p), argP(cc.k[layer].p), argP(cc.v[layer].p),
		argP(inv), argI(qm.rows), argI(heads), argI(kvHeads), argI(headDim), argI(half), argI(pos0),
		argI(boolArg(r.Interleaved)), argF(r.Scale))
}

// ---- KV cache and attention ---------------------------------------------------

// kvCache holds, per layer, keys and values [maxLen, kvDim] in the KV
// dtype.
type kvCache struct {
	maxLen, kvDim int
	k, v          []*buffer
}

// MaxLen returns the number of positions the cache holds.
func (c *kvCache) MaxLen() int { return c.maxLen }

// NewKVCache allocates the cache (2·layers·maxLen·kvDim values of the KV
// dtype; e.g. 2 GiB for LLaMA-2-7B at 4096 positions in f16).
func (b *Backend) NewKVCache(layers, maxLen, kvDim int) backend.KVCache {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := &kvCache{maxLen: maxLen, kvDim: kvDim, k: make([]*buffer, layers), v: make([]*buffer, layers)}
	n := int64(maxLen) * int64(kvDim) * b.kvdt.size()
	for i := range c.k {
		c.k[i] = b.alloc("kv cache", n)
		c.v[i] = b.alloc("kv cache", n)
	}
	return c
}

// StoreKV writes k and v (rows at positions pos0…) into layer's cache.
func (b *Backend) StoreKV(c backend.KVCache, layer, pos0 int, k, v backend.Tensor) {
	cc, km, vm := c.(*kvCache), tens(k), tens(v)
	sameShape("store kv", km, vm)
	if km.cols != cc.kvDim || pos0 < 0 || pos0+km.rows > cc.maxLen {
		panic(fmt.Sprintf("cuda: store kv %d×%d at %d into a cache of %d×%d", km.rows, km.cols, pos0, cc.maxLen, cc.kvDim))
	}
	n := km.rows * km.cols
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	g, bl := elementwise(n)
	b.launch("store kv", b.k.storeKV, g, bl, argP(cc.k[layer].p), argP(cc.v[layer].p), argP(km.p), argP(vm.p),
		argI(pos0), argI(n), argI(cc.kvDim))
}

// Attention limits of the kernels (attention.cu).
const (
	attnMaxHeadDim = 512
	attnMaxChunk   = 1024
	attnMinChunk   = 32
	// attnGEMMMinRows is the query count from which attention runs as two
	// cuBLAS GEMMs around a causal softmax (prefill).
	attnGEMMMinRows = 16
)

// attnScoreBytes caps the f32 score matrix of one GEMM attention pass:
// longer prefills are processed in chunks of query rows, each against only
// the keys it can see (causal: later chunks see more), with scores small
// enough to stay in L2 between the GEMM, the softmax and the second GEMM.
// (A variable for the tests.)
var attnScoreBytes int64 = 32 << 20

// Attention computes causal attention of q (rows at positions pos0…)
// against the cached positions 0…pos0+rows−1 of layer.
func (b *Backend) Attention(dst, q backend.Tensor, c backend.KVCache, layer, pos0, heads, kvHeads, headDim int, scale float32) {
	d, qm, cc := tens(dst), tens(q), c.(*kvCache)
	sameShape("attention", d, qm)
	if qm.cols != heads*headDim || kvHeads <= 0 || heads%kvHeads != 0 || cc.kvDim != kvHeads*headDim ||
		pos0 < 0 || pos0+qm.rows > cc.maxLen {
		panic(fmt.Sprintf("cuda: attention %d×%d, heads %d/%d × %d at %d, cache %d×%d", qm.rows, qm.cols, heads, kvHeads, headDim, pos0, cc.maxLen, cc.kvDim))
	}
	if headDim > attnMaxHeadDim {
		panic(fmt.Sprintf("cuda: attention: head dim %d > %d is not supported", headDim, attnMaxHeadDim))
	}
	if qm.rows == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	kc, vc := cc.k[layer].p, cc.v[layer].p
	if qm.rows >= attnGEMMMinRows && b.blasLib != "" {
		b.attentionGEMM(d, qm, kc, vc, pos0, heads, kvHeads, headDim, scale)
		return
	}
	// grid.y (query rows) is limited to 65535.
	width := int64(heads * headDim * 4)
	for r0 := 0; r0 < qm.rows; r0 += 65535 {
		n := min(qm.rows-r0, 65535)
		off := devPtr(int64(r0) * width)
		b.attentionSplit(d.p+off, qm.p+off, kc, vc, n, pos0+r0, heads, kvHeads, headDim, scale)
	}
}

// splitPlan chooses how many key chunks each (row, head) is cut into: enough
// blocks for two waves over the SMs, chunks of 32…1024 keys.
func splitPlan(rows, total, heads, sms int) (chunk, nsplit int) {
	nsplit = 1
	if pairs := rows * heads; pairs < 2*sms {
		nsplit = ceilDiv(2*sms, pairs)
	}
	nsplit = max(1, min(nsplit, ceilDiv(total, attnMinChunk)))
	chunk = ceilDiv(total, nsplit)
	if chunk > attnMaxChunk {
		chunk = attnMaxChunk
	}
	return chunk, ceilDiv(total, chunk)
}

// attentionSplit runs the flash-decoding kernel (and the combine pass when
// the keys are split). Caller holds b.mu.
func (b *Backend) attentionSplit(out, q, kc, vc devPtr, rows, pos0, heads, kvHeads, hd int, scale float32) {
	chunk, nsplit := splitPlan(rows, pos0+rows, heads, b.sms)
	var po, pml devPtr
	if nsplit > 1 {
		parts := int64(rows) * int64(heads) * int64(nsplit)
		po = b.scratchBuf("attn partial o", parts*int64(hd)*4)
		pml = b.scratchBuf("attn partial ml", parts*2*4)
	}
	b.launch("attention", b.k.attnSplit, dim3{heads, rows, nsplit}, dim3{128, 1, 1},
		argP(out), argP(po), argP(pml), argP(q), argP(kc), argP(vc), argI(pos0), argI(heads), argI(kvHeads),
		argI(hd), argF(scale), argI(chunk), argI(nsplit))
	if nsplit > 1 {
		b.launch("attention combine", b.k.combine, dim3{heads, rows, 1}, dim3{min(256, (hd+31)&^31), 1, 1},
			argP(out), argP(po), argP(pml), argI(heads), argI(hd), argI(nsplit))
	}
}

// attentionGEMM computes attention as S = scale·Q·Kᵀ and O = P·V with
// strided-batched cuBLAS GEMMs (one batch per kv head and query head of
// its group) around softmax_causal. Caller holds b.mu.
func (b *Backend) attentionGEMM(d, q *Tensor, kc, vc devPtr, pos0, heads, kvHeads, hd int, scale float32) {
	rows, width, kvDim := q.rows, heads*hd, kvHeads*hd
	group := heads / kvHeads
	es := b.kvdt.size()
	step := max(1, min(rows, int(attnScoreBytes/int64(4*heads*(pos0+rows)))))
	for r0 := 0; r0 < rows; r0 += step {
		r1 := min(rows, r0+step)
		n, p0 := r1-r0, pos0+r0
		total := p0 + n
		qp := q.p + devPtr(r0*width*4)
		if b.kvdt != f32 {
			cnt := n * width
			conv := b.scratchBuf("attn q", int64(cnt)*es)
			g, bl := elementwise(cnt)
			b.launch("attention: convert", b.k.convertKV, g, bl, argP(conv), argP(qp), argI(cnt))
			qp = conv
		}
		sz := int64(heads) * int64(n) * int64(total)
		s := b.scratchBuf("attn scores", sz*4)
		p := b.scratchBuf("attn probs", sz*es)
		plane := int64(n) * int64(total) // one head's scores
		for j := 0; j < group; j++ {
			// S_h (row-major n×total, col-major total×n) = K_g (total×hd) · Q_hᵀ
			b.gemm("attention: scores", &gemmCall{transA: true, m: total, n: n, k: hd, alpha: scale, ab: b.kvdt,
				a: kc, lda: kvDim, strideA: int64(hd),
				b: qp + devPtr(int64(j*hd)*es), ldb: width, strideB: int64(group * hd),
				c: s + devPtr(int64(j)*plane*4), ldc: total, strideC: int64(group) * plane, batch: kvHeads})
		}
		b.launch("attention: softmax", b.k.softmax, dim3{n, heads, 1}, dim3{256, 1, 1},
			argP(p), argP(s), argI(n), argI(total), argI(p0))
		op := d.p + devPtr(r0*width*4)
		for j := 0; j < group; j++ {
			// O_h (row-major n×hd, col-major hd×n) = V_gᵀ (hd×total) · P_hᵀ
			b.gemm("attention: values", &gemmCall{m: hd, n: n, k: total, alpha: 1, ab: b.kvdt,
				a: vc, lda: kvDim, strideA: int64(hd),
				b: p + devPtr(int64(j)*plane*es), ldb: total, strideB: int64(group) * plane,
				c: op + devPtr(j*hd*4), ldc: width, strideC: int64(group * hd), batch: kvHeads})
		}
	}
}

// ---- kernels ------------------------------------------------------------------

// kernelSet holds the kernels of the module for one compute dtype and one
// KV-cache dtype.
type kernelSet struct {
	add, bias, swiglu, relu, gelu, copyCols, copy uintptr
	rmsnorm, addRMSNorm, layernorm, rope, combine uintptr
	embedding, addRows, convert, gemm             uintptr                 // weights' dtype
	gemv                                          [gemvMaxRows][3]uintptr // [rows−1][1, 2, 4 rows per warp]
	gemvAny                                       [gemvMaxRows]uintptr
	storeKV, ropeStore, attnSplit, softmax        uintptr // KV dtype
	convertKV                                     uintptr
}

// names maps every kernel the backend loads for (dt, kvdt) to its slot.
func (k *kernelSet) names(dt, kvdt dtype) map[string]*uintptr {
	s, kv := dt.String(), kvdt.String()
	m := map[string]*uintptr{
		"add_f32": &k.add, "bias_f32": &k.bias, "swiglu_f32": &k.swiglu, "relu_f32": &k.relu, "gelu_f32": &k.gelu,
		"copy_cols_f32": &k.copyCols, "copy_f32": &k.copy, "rmsnorm_f32": &k.rmsnorm, "add_rmsnorm_f32": &k.addRMSNorm,
		"layernorm_f32": &k.layernorm, "rope_f32": &k.rope, "attn_combine_f32": &k.combine,
		"embedding_" + s: &k.embedding, "add_rows_" + s: &k.addRows, "convert_" + s: &k.convert, "gemm_" + s: &k.gemm,
		"store_kv_" + kv: &k.storeKV, "rope_store_" + kv: &k.ropeStore, "attn_split_" + kv: &k.attnSplit, "softmax_causal_" + kv: &k.softmax,
	}
	for m1 := 1; m1 <= gemvMaxRows; m1++ {
		for i, r := range []int{1, 2, 4} {
			m[fmt.Sprintf("gemv_%s_m%d_r%d", s, m1, r)] = &k.gemv[m1-1][i]
		}
		m[fmt.Sprintf("gemv_any_%s_m%d", s, m1)] = &k.gemvAny[m1-1]
	}
	return m
}

func loadKernels(d driver, dt, kvdt dtype) (kernelSet, error) {
	var k kernelSet
	var errs []error
	for name, dst := range k.names(dt, kvdt) {
		fn, err := d.function(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*dst = fn
	}
	if len(errs) > 0 {
		return k, fmt.Errorf("cuda: loading kernels: %w", errors.Join(errs...))
	}
	k.convertKV = k.convert
	if kvdt != dt {
		fn, err := d.function("convert_" + kvdt.String())
		if err != nil {
			return k, fmt.Errorf("cuda: loading kernels: %w", err)
		}
		k.convertKV = fn
	}
	return k, nil
}
