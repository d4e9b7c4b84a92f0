package kernels

// Group-wise quantized weights (GPTQ, AWQ, RTN): W[o,i] = (q[o,i] − z[g,o])·s[g,o]
// with g the group of input column i, codes q of 2, 3, 4 or 8 bits (5–7-bit
// codes are kept in 8-bit containers), one scale and one zero point per
// (group, output row). QuantGroupMatrix multiplies on the packed codes: it
// never holds a dequantized copy of the matrix (large batches dequantize a
// panel of rows at a time into pooled scratch and hand it to Sgemm).
//
// Memory layout (row-major by output row; each row is RowWords uint32 words,
// its codes in stored column order, padded with zero codes to a multiple of
// 32):
//
//	bits 2:  16 codes per word, code j of the word at bits 2j (LSB first);
//	bits 4:   8 codes per word, code j at bits 4j;
//	bits 8:   4 codes per word, code j in byte j (little-endian);
//	bits 3:  per 32 codes three words: w0 = low two bits of codes 0–15 (as
//	         bits 2), w1 = low two bits of codes 16–31, w2 = bit 2 of codes
//	         0–31 (code j at bit j) — two bit planes, so 8 codes unpack with
//	         two shifts and a mask, never straddling a word.
//
// Act-order (GPTQ desc_act): when the group index g_idx is not
// non-decreasing, the columns are permuted once at construction so that
// every group is contiguous (a stable sort by g_idx), and MulT gathers x
// into the same order (O(m·in) per call, into pooled scratch).
//
// Arithmetic: per row and group, acc = Σ_j x_j·(q_j − z) in float32 (q − z is
// exact in float32), then y += s·acc. For a one-hot x this gives exactly
// (q − z)·s, the dequantized weight, so MulT of the identity reproduces
// Dequantize bit for bit.
//
// Roofline at batch 1 (4096→11008, int4-g128): 0.5 byte of codes + 8/128
// bytes of f32 scale and zero per weight, ≈ 25 MB per call against 180 MB
// for float32, so the kernel is bound by memory bandwidth only if it unpacks
// fast enough: ~6 vector µops per 8 weights with AVX2 (broadcast, variable
// shift, mask, convert, subtract, FMA). The AVX2 kernels are C compiled by
// cgo (quant_cgo.go); without cgo (or with -tags purego, or on CPUs without
// AVX2/FMA) MulT runs the pure-Go kernels below, which are scalar. An
// option (SetQuantActInt8, off by default) runs batches below
// quantGEMMRows of 4- and 8-bit containers on int8 activations with integer
// dot products instead (quant_q8act.go).

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// QuantGroupMatrix is a weight [Out×In] stored as group-quantized integer
// codes (see the file comment for the layout). It implements Matrix; MulT
// is safe for concurrent use.
type QuantGroupMatrix struct {
	out, in   int
	bits      int // quantizer bits (2..8)
	cbits     int // container bits: 2, 3, 4 or 8
	groupSize int // nominal group size (as constructed; In for one group per row)
	groups    int
	rowWords  int
	words     []uint32
	scales    []float32 // [out×groups]
	zeros     []float32 // [out×groups]
	// perm[j] is the input column held in stored column j (nil: identity).
	perm []int32
	// colGroup[j] is the group of stored column j when the groups are not
	// uniform (nil when every group has uniformG contiguous stored columns).
	colGroup []int32
	uniformG int // stored columns per group when colGroup == nil
	pool     sync.Pool
}

// quantScratch is per-call scratch for MulT, pooled per matrix.
type quantScratch struct {
	x   []float32 // permuted x
	pan []float32 // dequantized panel for the GEMM path
	i8  []int8    // quantized activations (W8A8)
	u8  []uint8   // quantized activations + 128 (W8A8, VNNI kernel)
	sx  []float32 // activation scales (W8A8; int8-activation blocks)
	xg  []float32 // per-group sums of the int8 activations (quant_q8act.go)
}

// Errors returned by the packed-matrix constructors.
var (
	// ErrQuantShape marks inconsistent dimensions or parameter lengths.
	ErrQuantShape = errors.New("quantized matrix: bad shape")
	// ErrQuantCode marks a code outside [0, 2^bits) or an unsupported width.
	ErrQuantCode = errors.New("quantized matrix: bad code")
)

// quantContainerBits returns the container width of bits-bit codes.
func quantContainerBits(bits int) int {
	switch {
	case bits == 2 || bits == 3 || bits == 4:
		return bits
	default:
		return 8
	}
}

// NewQuantGroupMatrix packs codes [out×in] (row-major, each < 2^bits,
// 2 ≤ bits ≤ 8) with scales and zeros [groups×out] (group-major, as GPTQ
// stores them). gidx, if non-nil, gives the group of each input column
// (len in, each in [0, groups)); nil means column i is in group
// i/groupSize, and groupSize ≤ 0 or ≥ in means one group per row. groups
// is len(scales)/out. It copies what it keeps; the arguments are not
// retained.
func NewQuantGroupMatrix(out, in, bits, groupSize int, codes []uint8, scales, zeros []float32, gidx []int32) (*QuantGroupMatrix, error) {
	if out <= 0 || in <= 0 {
		return nil, fmt.Errorf("%w: %d×%d", ErrQuantShape, out, in)
	}
	if bits < 2 || bits > 8 {
		return nil, fmt.Errorf("%w: %d bits (want 2..8)", ErrQuantCode, bits)
	}
	if len(codes) != out*in {
		return nil, fmt.Errorf("%w: %d codes for %d×%d", ErrQuantShape, len(codes), out, in)
	}
	if groupSize <= 0 || groupSize > in {
		groupSize = in
	}
	if len(scales) == 0 || len(scales)%out != 0 || len(zeros) != len(scales) {
		return nil, fmt.Errorf("%w: %d scales and %d zeros for %d rows", ErrQuantShape, len(scales), len(zeros), out)
	}
	groups := len(scales) / out
	if gidx == nil {
		if want := (in + groupSize - 1) / groupSize; groups != want {
			return nil, fmt.Errorf("%w: %d groups of scales, want ceil(%d/%d) = %d", ErrQuantShape, groups, in, groupSize, want)
		}
	} else {
		if len(gidx) != in {
			return nil, fmt.Errorf("%w: g_idx has %d entries for %d columns", ErrQuantShape, len(gidx), in)
		}
		for i, g := range gidx {
			if g < 0 || int(g) >= groups {
				return nil, fmt.Errorf("%w: g_idx[%d] = %d outside [0, %d)", ErrQuantShape, i, g, groups)
			}
		}
	}
	maxq := uint8(1<<bits - 1)
	for i, q := range codes {
		if q > maxq {
			return nil, fmt.Errorf("%w: code %d at (%d, %d) exceeds %d bits", ErrQuantCode, q, i/in, i%in, bits)
		}
	}
	m := &QuantGroupMatrix{out: out, in: in, bits: bits, cbits: quantContainerBits(bits), groupSize: groupSize, groups: groups}

	// Column order: identity, or a stable sort by group (act-order).
	colGroupOf := func(i int) int32 {
		if gidx != nil {
			return gidx[i]
		}
		return int32(i / groupSize)
	}
	if gidx != nil && !slices.IsSorted(gidx) {
		m.perm = make([]int32, in)
		for i := range m.perm {
			m.perm[i] = int32(i)
		}
		slices.SortStableFunc(m.perm, func(a, b int32) int { return int(gidx[a]) - int(gidx[b]) })
	}
	stored := func(j int) int { // input column of stored column j
		if m.perm != nil {
			return int(m.perm[j])
		}
		return j
	}
	// Uniform groups: group g holds stored columns [g·G, (g+1)·G).
	m.uniformG = groupSize
	if gidx != nil {
		m.uniformG = in / groups
	}
	uniform := m.uniformG > 0 && m.uniformG*groups == in
	for j := 0; uniform && j < in; j++ {
		uniform = int(colGroupOf(stored(j))) == j/m.uniformG
	}
	if !uniform {
		m.uniformG = 0
		m.colGroup = make([]int32, in)
		for j := range m.colGroup {
			m.colGroup[j] = colGroupOf(stored(j))
		}
	}

	// Scales and zeros, row-major.
	m.scales = make([]float32, out*groups)
	m.zeros = make([]float32, out*groups)
	for g := 0; g < groups; g++ {
		for o := 0; o < out; o++ {
			m.scales[o*groups+g] = scales[g*out+o]
			m.zeros[o*groups+g] = zeros[g*out+o]
		}
	}

	// Codes.
	blocks := (in + 31) / 32
	m.rowWords = blocks * m.cbits
	m.words = make([]uint32, out*m.rowWords)
	row := make([]uint8, blocks*32)
	for o := 0; o < out; o++ {
		src := codes[o*in : (o+1)*in]
		for j := 0; j < in; j++ {
			row[j] = src[stored(j)]
		}
		quantPackRow(m.words[o*m.rowWords:(o+1)*m.rowWords], row, m.cbits)
	}
	return m, nil
}

// quantPackRow packs codes (len a multiple of 32) into dst in the layout
// of container width cbits.
func quantPackRow(dst []uint32, codes []uint8, cbits int) {
	clear(dst)
	for b := 0; b*32 < len(codes); b++ {
		c := codes[b*32 : b*32+32]
		w := dst[b*cbits : (b+1)*cbits]
		switch cbits {
		case 2, 4, 8:
			per := 32 / cbits
			for j, q := range c {
				w[j/per] |= uint32(q) << (uint(j%per) * uint(cbits))
			}
		case 3:
			for j, q := range c {
				w[j/16] |= uint32(q&3) << (uint(j%16) * 2)
				w[2] |= uint32(q>>2&1) << uint(j)
			}
		}
	}
}

// quantCode extracts stored code j of a packed row.
func quantCode(row []uint32, j, cbits int) uint32 {
	b, r := j/32, j%32
	w := row[b*cbits : (b+1)*cbits]
	switch cbits {
	case 2, 4, 8:
		per := 32 / cbits
		return w[r/per] >> (uint(r%per) * uint(cbits)) & (1<<cbits - 1)
	default: // 3
		return w[r/16]>>(uint(r%16)*2)&3 | (w[2]>>uint(r)&1)<<2
	}
}

// Dims returns (out, in).
func (m *QuantGroupMatrix) Dims() (int, int) { return m.out, m.in }

// Bits returns the quantizer's bit width.
func (m *QuantGroupMatrix) Bits() int { return m.bits }

// GroupSize returns the group size as constructed (In for one group per row).
func (m *QuantGroupMatrix) GroupSize() int { return m.groupSize }

// Groups returns the number of groups per row.
func (m *QuantGroupMatrix) Groups() int { return m.groups }

// Bytes returns the storage: packed codes plus float32 scales and zeros
// (and the act-order permutation, if any).
func (m *QuantGroupMatrix) Bytes() int64 {
	return 4*int64(len(m.words)) + 4*int64(len(m.scales)+len(m.zeros)) + 4*int64(len(m.perm)+len(m.colGroup))
}

// Format returns "int<bits>" for one group per row (per-channel) or
// "int<bits>-g<size>".
func (m *QuantGroupMatrix) Format() string {
	if m.groups == 1 {
		return fmt.Sprintf("int%d", m.bits)
	}
	return fmt.Sprintf("int%d-g%d", m.bits, m.groupSize)
}

// Unpack returns the codes [out×in] in input-column order, the scales and
// zeros [groups×out] and the group of each input column, as
// NewQuantGroupMatrix takes them (for re-saving a loaded matrix).
func (m *QuantGroupMatrix) Unpack() (codes []uint8, scales, zeros []float32, gidx []int32) {
	codes = make([]uint8, m.out*m.in)
	for o := 0; o < m.out; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		for j := 0; j < m.in; j++ {
			codes[o*m.in+m.col(j)] = uint8(quantCode(row, j, m.cbits))
		}
	}
	scales = make([]float32, m.out*m.groups)
	zeros = make([]float32, m.out*m.groups)
	for o := 0; o < m.out; o++ {
		for g := 0; g < m.groups; g++ {
			scales[g*m.out+o] = m.scales[o*m.groups+g]
			zeros[g*m.out+o] = m.zeros[o*m.groups+g]
		}
	}
	gidx = make([]int32, m.in)
	for j := 0; j < m.in; j++ {
		gidx[m.col(j)] = int32(m.group(j))
	}
	return codes, scales, zeros, gidx
}

// col returns the input column of stored column j.
func (m *QuantGroupMatrix) col(j int) int {
	if m.perm != nil {
		return int(m.perm[j])
	}
	return j
}

// group returns the group of stored column j.
func (m *QuantGroupMatrix) group(j int) int {
	if m.colGroup != nil {
		return int(m.colGroup[j])
	}
	return j / m.uniformG
}

// DequantizeRows writes rows [o0, o1) of W (in input-column order) to dst
// [(o1−o0)×in]: dst = (q − z)·s.
func (m *QuantGroupMatrix) DequantizeRows(dst []float32, o0, o1 int) {
	for o := o0; o < o1; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		d := dst[(o-o0)*m.in : (o-o0+1)*m.in]
		for j := 0; j < m.in; j++ {
			g := o*m.groups + m.group(j)
			d[m.col(j)] = (float32(quantCode(row, j, m.cbits)) - m.zeros[g]) * m.scales[g]
		}
	}
}

// MulTRef is the plain reference for MulT: per output, a float64 sum of
// x·(q − z)·s over the codes, single-threaded.
func (m *QuantGroupMatrix) MulTRef(dst, x []float32, rows int, bias []float32) {
	quantCheck("QuantGroupMatrix", m.out, m.in, dst, x, rows, bias)
	for o := 0; o < m.out; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		for r := 0; r < rows; r++ {
			xr := x[r*m.in : (r+1)*m.in]
			var s float64
			for j := 0; j < m.in; j++ {
				g := o*m.groups + m.group(j)
				w := float64(float32(quantCode(row, j, m.cbits))-m.zeros[g]) * float64(m.scales[g])
				s += float64(xr[m.col(j)]) * w
			}
			if bias != nil {
				s += float64(bias[o])
			}
			dst[r*m.out+o] = float32(s)
		}
	}
}

// quantGEMMRows is the batch size from which MulT dequantizes panels of
// rows and runs Sgemm instead of the direct kernel.
const quantGEMMRows = 16

// quantPanelRows is the number of weight rows dequantized per Sgemm call:
// about 2 MiB of float32 (one core's L2 on the reference machine), 32 to
// 512 rows, a multiple of 16.
func quantPanelRows(in int) int {
	return max(32, min(512, (1<<21)/(4*max(in, 1))/16*16))
}

// MulT computes dst[rows×out] = x[rows×in]·Wᵀ (+ bias). Small batches run
// the direct kernel on the packed codes, split over output rows; batches of
// quantGEMMRows or more dequantize quantPanelRows(in) rows at a time into
// pooled scratch and call Sgemm. It panics if a slice is too short.
func (m *QuantGroupMatrix) MulT(dst, x []float32, rows int, bias []float32) {
	quantCheck("QuantGroupMatrix", m.out, m.in, dst, x, rows, bias)
	if rows == 0 {
		return
	}
	sc := m.scratch()
	defer m.pool.Put(sc)
	xs := x[:rows*m.in]
	if m.perm != nil {
		sc.x = growF32(sc.x, rows*m.in)
		for r := 0; r < rows; r++ {
			xr, xp := x[r*m.in:(r+1)*m.in], sc.x[r*m.in:(r+1)*m.in]
			for j, c := range m.perm {
				xp[j] = xr[c]
			}
		}
		xs = sc.x[:rows*m.in]
	}
	if rows >= quantGEMMRows {
		m.mulTPanels(sc, dst, xs, rows, bias)
		return
	}
	if m.quantQ8Applies(rows) {
		m.mulTQ8(sc, dst, xs, rows, bias)
		return
	}
	var sx []float32
	if rows == 1 && QuantKernels() == "go" && m.colGroup == nil && m.uniformG%32 == 0 {
		sc.sx = growF32(sc.sx, m.groups)
		sx = sc.sx
		m.groupSums(sx, xs)
	}
	grain := quantGrain(m.out, m.in)
	if Workers(m.out, grain) == 1 {
		m.rowsKernel(dst, xs, sx, rows, bias, 0, m.out)
		return
	}
	ParallelFor(m.out, grain, func(lo, hi int) { m.rowsKernel(dst, xs, sx, rows, bias, lo, hi) })
}

// mulTPanels is MulT for large batches (x in stored column order):
// dequantize a panel of rows, Sgemm.
func (m *QuantGroupMatrix) mulTPanels(sc *quantScratch, dst, xs []float32, rows int, bias []float32) {
	p := min(quantPanelRows(m.in), m.out)
	sc.pan = growF32(sc.pan, p*m.in)
	for o0 := 0; o0 < m.out; o0 += p {
		o1 := min(o0+p, m.out)
		pan := sc.pan[:(o1-o0)*m.in]
		// One goroutine: with OpenBLAS, its threads are still spinning
		// from the previous panel's Sgemm (see blas_cgo.go), and
		// splitting this O(panel) pass over goroutines measured slower.
		m.dequantStored(pan, o0, o1)
		Sgemm(false, true, rows, o1-o0, m.in, 1, xs, m.in, pan, m.in, 0, dst[o0:], m.out)
	}
	if bias != nil {
		for r := 0; r < rows; r++ {
			Add(dst[r*m.out:(r+1)*m.out], dst[r*m.out:(r+1)*m.out], bias[:m.out])
		}
	}
}

// dequantStored writes rows [o0, o1) of W in stored column order to dst
// [(o1−o0)×in]: (q − z)·s, with the AVX2 unpacker when it applies.
func (m *QuantGroupMatrix) dequantStored(dst []float32, o0, o1 int) {
	if m.colGroup != nil || m.uniformG%32 != 0 {
		for o := o0; o < o1; o++ {
			row := m.words[o*m.rowWords : (o+1)*m.rowWords]
			d := dst[(o-o0)*m.in : (o-o0+1)*m.in]
			for j := range d {
				g := o*m.groups + m.group(j)
				d[j] = (float32(quantCode(row, j, m.cbits)) - m.zeros[g]) * m.scales[g]
			}
		}
		return
	}
	if quantDequantNative(m, dst, o0, o1) {
		return
	}
	var blk [32]float32
	G := m.uniformG
	for o := o0; o < o1; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		for g := 0; g < m.groups; g++ {
			z, s := m.zeros[o*m.groups+g], m.scales[o*m.groups+g]
			for b := g * G / 32; b < (g+1)*G/32; b++ {
				quantUnpack32(&blk, row[b*m.cbits:(b+1)*m.cbits], m.cbits, z)
				d := dst[(o-o0)*m.in+b*32 : (o-o0)*m.in+b*32+32]
				for j := range d {
					d[j] = blk[j] * s
				}
			}
		}
	}
}

// rowsKernel computes outputs [o0, o1) for every x row (x already in
// stored column order; sx, if non-nil, the group sums of a single x row).
func (m *QuantGroupMatrix) rowsKernel(dst, x, sx []float32, rows int, bias []float32, o0, o1 int) {
	if m.colGroup == nil && m.uniformG%32 == 0 && quantGroupNative(m, dst, x, rows, bias, o0, o1) {
		return
	}
	if m.colGroup == nil && m.uniformG%32 == 0 {
		if rows == 1 && sx != nil {
			m.rowsGo1(dst, x, sx, bias, o0, o1)
			return
		}
		m.rowsGo(dst, x, rows, bias, o0, o1)
		return
	}
	m.rowsGeneric(dst, x, rows, bias, o0, o1)
}

// groupSums writes Σ x over each group (x in stored order, uniform groups)
// to sx, for the pure-Go batch-1 kernel.
func (m *QuantGroupMatrix) groupSums(sx, x []float32) {
	G := m.uniformG
	for g := range sx {
		var s0, s1 float32
		xg := x[g*G : (g+1)*G]
		for j := 0; j+1 < len(xg); j += 2 {
			s0 += xg[j]
			s1 += xg[j+1]
		}
		sx[g] = s0 + s1
	}
}

// rowsGo1 is the pure-Go batch-1 kernel: per group, Σ x·q with the codes
// unpacked in registers from whole words (several accumulators), then
// s·(Σ x·q − z·Σ x) with the group sums sx precomputed once per call. For a
// one-hot x this is exactly (q − z)·s, like the other kernels.
func (m *QuantGroupMatrix) rowsGo1(dst, x, sx, bias []float32, o0, o1 int) {
	G, cb := m.uniformG, m.cbits
	wpg := G / 32 * cb // words per group
	for o := o0; o < o1; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		sc, zs := m.scales[o*m.groups:(o+1)*m.groups], m.zeros[o*m.groups:(o+1)*m.groups]
		var tot float32
		for g := range sc {
			w, xg := row[g*wpg:(g+1)*wpg], x[g*G:(g+1)*G]
			var dot float32
			switch cb {
			case 4:
				dot = quantDot4(w, xg)
			case 8:
				dot = quantDot8(w, xg)
			case 2:
				dot = quantDot2(w, xg)
			default:
				dot = quantDot3(w, xg)
			}
			tot += sc[g] * (dot - zs[g]*sx[g])
		}
		if bias != nil {
			tot += bias[o]
		}
		dst[o] = tot
	}
}

// quantDot4 returns Σ x·q over 4-bit words (8 codes per word).
func quantDot4(w []uint32, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:8*len(w)]
	for i, v := range w {
		xb := x[8*i : 8*i+8 : 8*i+8]
		s0 += float32(v&15)*xb[0] + float32(v>>16&15)*xb[4]
		s1 += float32(v>>4&15)*xb[1] + float32(v>>20&15)*xb[5]
		s2 += float32(v>>8&15)*xb[2] + float32(v>>24&15)*xb[6]
		s3 += float32(v>>12&15)*xb[3] + float32(v>>28)*xb[7]
	}
	return (s0 + s1) + (s2 + s3)
}

// quantDot8 returns Σ x·q over 8-bit words (4 codes per word).
func quantDot8(w []uint32, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:4*len(w)]
	for i, v := range w {
		xb := x[4*i : 4*i+4 : 4*i+4]
		s0 += float32(v&255) * xb[0]
		s1 += float32(v>>8&255) * xb[1]
		s2 += float32(v>>16&255) * xb[2]
		s3 += float32(v>>24) * xb[3]
	}
	return (s0 + s1) + (s2 + s3)
}

// quantDot2 returns Σ x·q over 2-bit words (16 codes per word).
func quantDot2(w []uint32, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:16*len(w)]
	for i, v := range w {
		xb := x[16*i : 16*i+16 : 16*i+16]
		for j := 0; j < 16; j += 4 {
			u := v >> (2 * uint(j))
			s0 += float32(u&3) * xb[j]
			s1 += float32(u>>2&3) * xb[j+1]
			s2 += float32(u>>4&3) * xb[j+2]
			s3 += float32(u>>6&3) * xb[j+3]
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// quantDot3 returns Σ x·q over 3-bit blocks (two low-bit planes and one
// high-bit plane per 32 codes).
func quantDot3(w []uint32, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:32*(len(w)/3)]
	for b := 0; b+3 <= len(w); b += 3 {
		hi := w[b+2]
		xb := x[32*(b/3) : 32*(b/3)+32 : 32*(b/3)+32]
		for h := 0; h < 2; h++ {
			v := w[b+h]
			for j := 0; j < 16; j += 4 {
				k := 16*h + j
				u, t := v>>(2*uint(j)), hi>>uint(k)
				s0 += float32(u&3|t<<2&4) * xb[k]
				s1 += float32(u>>2&3|t<<1&4) * xb[k+1]
				s2 += float32(u>>4&3|t&4) * xb[k+2]
				s3 += float32(u>>6&3|t>>1&4) * xb[k+3]
			}
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// rowsGo is the pure-Go kernel for uniform groups of a multiple of 32
// columns: whole words are unpacked into a 32-code block once per block
// and reused for every x row.
func (m *QuantGroupMatrix) rowsGo(dst, x []float32, rows int, bias []float32, o0, o1 int) {
	var blk [32]float32
	var accs [quantMaxRowsGo]float32
	var tots [quantMaxRowsGo]float64
	G := m.uniformG
	for o := o0; o < o1; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		for r0 := 0; r0 < rows; r0 += quantMaxRowsGo {
			nr := min(quantMaxRowsGo, rows-r0)
			for r := 0; r < nr; r++ {
				tots[r] = 0
			}
			for g := 0; g < m.groups; g++ {
				z, s := m.zeros[o*m.groups+g], m.scales[o*m.groups+g]
				for r := 0; r < nr; r++ {
					accs[r] = 0
				}
				for b := g * G / 32; b < (g+1)*G/32; b++ {
					quantUnpack32(&blk, row[b*m.cbits:(b+1)*m.cbits], m.cbits, z)
					for r := 0; r < nr; r++ {
						xb := x[(r0+r)*m.in+b*32 : (r0+r)*m.in+b*32+32]
						accs[r] += quantDot32(&blk, xb)
					}
				}
				for r := 0; r < nr; r++ {
					tots[r] += float64(s * accs[r])
				}
			}
			for r := 0; r < nr; r++ {
				v := float32(tots[r])
				if bias != nil {
					v += bias[o]
				}
				dst[(r0+r)*m.out+o] = v
			}
		}
	}
}

// quantMaxRowsGo is how many x rows the pure-Go kernel serves per unpack.
const quantMaxRowsGo = 8

// quantUnpack32 unpacks one 32-code block into blk as q − z.
func quantUnpack32(blk *[32]float32, w []uint32, cbits int, z float32) {
	switch cbits {
	case 4:
		for i := 0; i < 4; i++ {
			v := w[i]
			b := blk[i*8 : i*8+8 : i*8+8]
			b[0] = float32(v&15) - z
			b[1] = float32(v>>4&15) - z
			b[2] = float32(v>>8&15) - z
			b[3] = float32(v>>12&15) - z
			b[4] = float32(v>>16&15) - z
			b[5] = float32(v>>20&15) - z
			b[6] = float32(v>>24&15) - z
			b[7] = float32(v>>28) - z
		}
	case 8:
		for i := 0; i < 8; i++ {
			v := w[i]
			b := blk[i*4 : i*4+4 : i*4+4]
			b[0] = float32(v&255) - z
			b[1] = float32(v>>8&255) - z
			b[2] = float32(v>>16&255) - z
			b[3] = float32(v>>24) - z
		}
	case 2:
		for i := 0; i < 2; i++ {
			v := w[i]
			for j := 0; j < 16; j++ {
				blk[i*16+j] = float32(v>>(2*uint(j))&3) - z
			}
		}
	case 3:
		hi := w[2]
		for i := 0; i < 2; i++ {
			v := w[i]
			for j := 0; j < 16; j++ {
				k := i*16 + j
				blk[k] = float32(v>>(2*uint(j))&3|(hi>>uint(k)&1)<<2) - z
			}
		}
	}
}

// quantDot32 returns Σ blk[j]·x[j] with four accumulators.
func quantDot32(blk *[32]float32, x []float32) float32 {
	x = x[:32:32]
	var s0, s1, s2, s3 float32
	for j := 0; j < 32; j += 4 {
		s0 += blk[j] * x[j]
		s1 += blk[j+1] * x[j+1]
		s2 += blk[j+2] * x[j+2]
		s3 += blk[j+3] * x[j+3]
	}
	return (s0 + s1) + (s2 + s3)
}

// rowsGeneric handles any grouping (non-uniform act-order groups, groups
// not a multiple of 32 columns) one code at a time.
func (m *QuantGroupMatrix) rowsGeneric(dst, x []float32, rows int, bias []float32, o0, o1 int) {
	for o := o0; o < o1; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		for r := 0; r < rows; r++ {
			xr := x[r*m.in : (r+1)*m.in]
			var tot float64
			var acc float32
			cur := -1
			for j := 0; j < m.in; j++ {
				g := m.group(j)
				if g != cur {
					if cur >= 0 {
						tot += float64(m.scales[o*m.groups+cur] * acc)
					}
					cur, acc = g, 0
				}
				acc += xr[j] * (float32(quantCode(row, j, m.cbits)) - m.zeros[o*m.groups+g])
			}
			if cur >= 0 {
				tot += float64(m.scales[o*m.groups+cur] * acc)
			}
			v := float32(tot)
			if bias != nil {
				v += bias[o]
			}
			dst[r*m.out+o] = v
		}
	}
}

func (m *QuantGroupMatrix) scratch() *quantScratch {
	if sc, ok := m.pool.Get().(*quantScratch); ok {
		return sc
	}
	return new(quantScratch)
}

// quantGrain is the ParallelFor grain over output rows: at least ~32 K
// weights per chunk, and no more chunks than threads.
func quantGrain(out, in int) int {
	t := MaxThreads()
	return max(1, 32768/max(in, 1), (out+t-1)/t)
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// quantCheck panics unless the slices hold the dimensions MulT is given.
func quantCheck(name string, out, in int, dst, x []float32, rows int, bias []float32) {
	switch {
	case rows < 0:
		panic(fmt.Sprintf("kernels.%s.MulT: negative rows %d", name, rows))
	case len(x) < rows*in:
		panic(fmt.Sprintf("kernels.%s.MulT: len(x)=%d < %d·%d", name, len(x), rows, in))
	case len(dst) < rows*out:
		panic(fmt.Sprintf("kernels.%s.MulT: len(dst)=%d < %d·%d", name, len(dst), rows, out))
	case bias != nil && len(bias) < out:
		panic(fmt.Sprintf("kernels.%s.MulT: len(bias)=%d < %d", name, len(bias), out))
	}
}

// quantRoundEven rounds to the nearest integer, ties to even (torch.round).
func quantRoundEven(v float32) float32 { return float32(math.RoundToEven(float64(v))) }
