//go:build cgo && !purego

package kernels

// AVX2/FMA kernels for the quantized and 2:4 sparse matrices (and an
// AVX512-VNNI one for W8A8), in C compiled by cgo. Each function computes a
// range of output rows for up to four x rows per pass over the weights
// (register blocking: a weight vector is unpacked once and multiplied into
// every x row of the pass), prefetching the weight stream 4 KiB ahead. The
// CPU is checked once at run time (__builtin_cpu_supports); on CPUs without
// AVX2 and FMA, and on non-x86 targets, the probes report 0 and the Go
// kernels run instead. GOLLM_QUANT_KERNELS=go forces the Go kernels and
// GOLLM_QUANT_KERNELS=avx2 keeps W8A8 and the int8-activation group GEMV
// off VNNI (for comparisons); GOLLM_QUANT_ACT=int8 turns the
// int8-activation group GEMV on (quant_q8act.go; off by default).
// fp-contract=off (a GCC pragma; Clang contracts only within one
// expression) keeps the C epilogues rounding exactly as the Go reference
// does (no implicit FMA contraction), so W8A8 results match it bit for bit.
//
// Layouts and arithmetic are those documented in quant_group.go,
// quant_w8a8.go and sparse24.go; the tests hold each kernel to the Go
// reference (quant_test.go, sparse24_test.go).

/*
#cgo CFLAGS: -O3
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define GOLLM_X86 1
#define GOLLM_AVX2 __attribute__((target("avx2,fma")))
#define GOLLM_INLINE static inline __attribute__((always_inline))
#ifndef GOLLM_PF
#define GOLLM_PF 4096
#endif

static int gollm_quant_ok(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

GOLLM_AVX2 GOLLM_INLINE float gollm_hsum(__m256 v) {
	__m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
	return _mm_cvtss_f32(lo);
}

GOLLM_AVX2 GOLLM_INLINE int32_t gollm_hsum_i32(__m256i v) {
	__m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
	lo = _mm_add_epi32(lo, hi);
	lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4E));
	lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xB1));
	return _mm_cvtsi128_si32(lo);
}

// gollm_unpack32 decodes one 32-code block (cbits container, see
// quant_group.go) into four vectors of q - z.
GOLLM_AVX2 GOLLM_INLINE void gollm_unpack32(const uint32_t *w, int cbits, __m256 z, __m256 q[4]) {
	if (cbits == 4) {
		const __m256i sh = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
		const __m256i mk = _mm256_set1_epi32(15);
		for (int i = 0; i < 4; i++) {
			__m256i v = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)w[i]), sh), mk);
			q[i] = _mm256_sub_ps(_mm256_cvtepi32_ps(v), z);
		}
	} else if (cbits == 8) {
		for (int i = 0; i < 4; i++) {
			__m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(w + 2 * i)));
			q[i] = _mm256_sub_ps(_mm256_cvtepi32_ps(v), z);
		}
	} else {
		const __m256i sl = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
		const __m256i sh = _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30);
		const __m256i m3 = _mm256_set1_epi32(3);
		__m256i v[4];
		for (int i = 0; i < 2; i++) {
			__m256i b = _mm256_set1_epi32((int)w[i]);
			v[2 * i] = _mm256_and_si256(_mm256_srlv_epi32(b, sl), m3);
			v[2 * i + 1] = _mm256_and_si256(_mm256_srlv_epi32(b, sh), m3);
		}
		if (cbits == 3) {
			const __m256i one = _mm256_set1_epi32(1);
			__m256i hb = _mm256_set1_epi32((int)w[2]);
			__m256i s = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
			const __m256i eight = _mm256_set1_epi32(8);
			for (int i = 0; i < 4; i++) {
				__m256i h = _mm256_and_si256(_mm256_srlv_epi32(hb, s), one);
				v[i] = _mm256_or_si256(v[i], _mm256_slli_epi32(h, 2));
				s = _mm256_add_epi32(s, eight);
			}
		}
		for (int i = 0; i < 4; i++) q[i] = _mm256_sub_ps(_mm256_cvtepi32_ps(v[i]), z);
	}
}

// gollm_qgroup_rows_r: R x rows (R <= 4, a constant after inlining).
GOLLM_AVX2 GOLLM_INLINE void gollm_qgroup_rows_r(int R, int cbits, const uint32_t *words, int64_t rowWords,
		const float *scales, const float *zeros, int64_t groups, int64_t gsize,
		const float *x, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	const int64_t bpg = gsize / 32;
	for (int64_t o = o0; o < o1; o++) {
		const uint32_t *row = words + o * rowWords;
		__m256 tot[4];
		for (int r = 0; r < R; r++) tot[r] = _mm256_setzero_ps();
		// A independent accumulators per x row (4/R), so that the FMA
		// latency is hidden even for one row.
		const int A = R == 1 ? 4 : R == 2 ? 2 : 1;
		for (int64_t g = 0; g < groups; g++) {
			__m256 z = _mm256_set1_ps(zeros[o * groups + g]);
			__m256 acc[4][4];
			for (int r = 0; r < R; r++)
				for (int a = 0; a < A; a++) acc[r][a] = _mm256_setzero_ps();
			for (int64_t b = g * bpg; b < (g + 1) * bpg; b++) {
				__m256 q[4];
				// Software prefetch GOLLM_PF bytes ahead (into the next rows
				// at the end of a row): without it the hardware prefetcher
				// does not run far enough ahead and memory stalls add to the
				// unpacking time instead of overlapping it.
				_mm_prefetch((const char *)(row + b * cbits) + GOLLM_PF, _MM_HINT_T0);
				gollm_unpack32(row + b * cbits, cbits, z, q);
				for (int r = 0; r < R; r++) {
					const float *xb = x + r * in + b * 32;
					for (int i = 0; i < 4; i++)
						acc[r][i % A] = _mm256_fmadd_ps(q[i], _mm256_loadu_ps(xb + 8 * i), acc[r][i % A]);
				}
			}
			__m256 s = _mm256_set1_ps(scales[o * groups + g]);
			for (int r = 0; r < R; r++) {
				__m256 a = acc[r][0];
				if (A == 4) a = _mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3]));
				if (A == 2) a = _mm256_add_ps(acc[r][0], acc[r][1]);
				tot[r] = _mm256_fmadd_ps(s, a, tot[r]);
			}
		}
		for (int r = 0; r < R; r++) {
			float v = gollm_hsum(tot[r]);
			if (bias) v += bias[o];
			dst[r * out + o] = v;
		}
	}
}

#define GOLLM_QG(CB) \
GOLLM_AVX2 static void gollm_qgroup_rows_c##CB(const uint32_t *words, int64_t rowWords, const float *scales, \
		const float *zeros, int64_t groups, int64_t gsize, const float *x, int64_t rows, int64_t in, \
		float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) { \
	int64_t r = 0; \
	for (; r + 4 <= rows; r += 4) \
		gollm_qgroup_rows_r(4, CB, words, rowWords, scales, zeros, groups, gsize, x + r * in, in, dst + r * out, out, bias, o0, o1); \
	switch (rows - r) { \
	case 3: gollm_qgroup_rows_r(3, CB, words, rowWords, scales, zeros, groups, gsize, x + r * in, in, dst + r * out, out, bias, o0, o1); break; \
	case 2: gollm_qgroup_rows_r(2, CB, words, rowWords, scales, zeros, groups, gsize, x + r * in, in, dst + r * out, out, bias, o0, o1); break; \
	case 1: gollm_qgroup_rows_r(1, CB, words, rowWords, scales, zeros, groups, gsize, x + r * in, in, dst + r * out, out, bias, o0, o1); break; \
	} \
}
GOLLM_QG(2)
GOLLM_QG(3)
GOLLM_QG(4)
GOLLM_QG(8)

static void gollm_qgroup_rows(int cbits, const uint32_t *words, int64_t rowWords, const float *scales,
		const float *zeros, int64_t groups, int64_t gsize, const float *x, int64_t rows, int64_t in,
		float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	switch (cbits) {
	case 2: gollm_qgroup_rows_c2(words, rowWords, scales, zeros, groups, gsize, x, rows, in, dst, out, bias, o0, o1); break;
	case 3: gollm_qgroup_rows_c3(words, rowWords, scales, zeros, groups, gsize, x, rows, in, dst, out, bias, o0, o1); break;
	case 4: gollm_qgroup_rows_c4(words, rowWords, scales, zeros, groups, gsize, x, rows, in, dst, out, bias, o0, o1); break;
	case 8: gollm_qgroup_rows_c8(words, rowWords, scales, zeros, groups, gsize, x, rows, in, dst, out, bias, o0, o1); break;
	}
}

// gollm_qgroup_dequant writes rows [o0, o1) as (q - z)*s in stored order.
#define GOLLM_QD(CB) \
GOLLM_AVX2 static void gollm_qgroup_dequant_c##CB(const uint32_t *words, int64_t rowWords, const float *scales, \
		const float *zeros, int64_t groups, int64_t gsize, int64_t in, float *dst, int64_t o0, int64_t o1) { \
	const int64_t bpg = gsize / 32; \
	for (int64_t o = o0; o < o1; o++) { \
		const uint32_t *row = words + o * rowWords; \
		float *d = dst + (o - o0) * in; \
		for (int64_t g = 0; g < groups; g++) { \
			__m256 z = _mm256_set1_ps(zeros[o * groups + g]), s = _mm256_set1_ps(scales[o * groups + g]); \
			for (int64_t b = g * bpg; b < (g + 1) * bpg; b++) { \
				__m256 q[4]; \
				gollm_unpack32(row + b * CB, CB, z, q); \
				for (int i = 0; i < 4; i++) _mm256_storeu_ps(d + b * 32 + 8 * i, _mm256_mul_ps(q[i], s)); \
			} \
		} \
	} \
}
GOLLM_QD(2)
GOLLM_QD(3)
GOLLM_QD(4)
GOLLM_QD(8)

static void gollm_qgroup_dequant(int cbits, const uint32_t *words, int64_t rowWords, const float *scales,
		const float *zeros, int64_t groups, int64_t gsize, int64_t in, float *dst, int64_t o0, int64_t o1) {
	switch (cbits) {
	case 2: gollm_qgroup_dequant_c2(words, rowWords, scales, zeros, groups, gsize, in, dst, o0, o1); break;
	case 3: gollm_qgroup_dequant_c3(words, rowWords, scales, zeros, groups, gsize, in, dst, o0, o1); break;
	case 4: gollm_qgroup_dequant_c4(words, rowWords, scales, zeros, groups, gsize, in, dst, o0, o1); break;
	case 8: gollm_qgroup_dequant_c8(words, rowWords, scales, zeros, groups, gsize, in, dst, o0, o1); break;
	}
}

// W8A8: int8 x int8 -> int32 with vpmaddwd on sign-extended int16.
GOLLM_AVX2 GOLLM_INLINE void gollm_w8a8_rows_r(int R, const int8_t *w, const int8_t *q, const float *sx,
		const float *sw, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	for (int64_t o = o0; o < o1; o++) {
		const int8_t *wr = w + o * in;
		__m256i acc[4];
		for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_si256();
		int64_t j = 0;
		for (; j + 16 <= in; j += 16) {
			if ((j & 63) == 0) _mm_prefetch((const char *)(wr + j) + GOLLM_PF, _MM_HINT_T0);
			__m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wr + j)));
			for (int r = 0; r < R; r++) {
				__m256i xv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + r * in + j)));
				acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(wv, xv));
			}
		}
		for (int r = 0; r < R; r++) {
			int32_t s = gollm_hsum_i32(acc[r]);
			for (int64_t k = j; k < in; k++) s += (int32_t)wr[k] * (int32_t)q[r * in + k];
			float v = (float)s * sx[r];
			v = v * sw[o];
			if (bias) v += bias[o];
			dst[r * out + o] = v;
		}
	}
}

GOLLM_AVX2 static void gollm_w8a8_rows(const int8_t *w, const int8_t *q, const float *sx, const float *sw,
		int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	int64_t r = 0;
	for (; r + 4 <= rows; r += 4)
		gollm_w8a8_rows_r(4, w, q + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1);
	switch (rows - r) {
	case 3: gollm_w8a8_rows_r(3, w, q + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1); break;
	case 2: gollm_w8a8_rows_r(2, w, q + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1); break;
	case 1: gollm_w8a8_rows_r(1, w, q + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1); break;
	}
}

// W8A8 with AVX512-VNNI (vpdpbusd on 256-bit registers): 32 u8 x s8 products
// per instruction. The activations come offset to unsigned (xu = xq + 128);
// wsum[o] = 128 * sum of w[o, j] over the first in/32*32 columns corrects it,
// so the int32 sums equal the signed ones exactly.
#define GOLLM_VNNI __attribute__((target("avx512vnni,avx512vl,avx512f,avx2,fma")))
static int gollm_vnni_ok(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512f");
}

// gollm_w8a8v_tail is Σ w[k]·(xu[k] − 128) over the n < 32 tail columns,
// kept scalar: inlined into the VNNI kernel and vectorized by GCC 12 at -O3,
// this loop gave wrong sums whenever n ≥ 16 (in % 32 = 16..31; LLaMA-3-tiny's
// down_proj, in = 176, was off by up to 0.8 against MulTRef).
__attribute__((noinline, optimize("no-tree-vectorize"))) static int32_t gollm_w8a8v_tail(const int8_t *w, const uint8_t *xu, int64_t n) {
	int32_t s = 0;
	for (int64_t k = 0; k < n; k++) s += (int32_t)w[k] * ((int32_t)xu[k] - 128);
	return s;
}

GOLLM_VNNI GOLLM_INLINE void gollm_w8a8v_rows_r(int R, const int8_t *w, const int32_t *wsum, const uint8_t *xu,
		const float *sx, const float *sw, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	const int64_t in32 = in / 32 * 32;
	for (int64_t o = o0; o < o1; o++) {
		const int8_t *wr = w + o * in;
		__m256i acc[4];
		for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_si256();
		for (int64_t j = 0; j < in32; j += 32) {
			if ((j & 63) == 0) _mm_prefetch((const char *)(wr + j) + GOLLM_PF, _MM_HINT_T0);
			__m256i wv = _mm256_loadu_si256((const __m256i *)(wr + j));
			for (int r = 0; r < R; r++)
				acc[r] = _mm256_dpbusd_epi32(acc[r], _mm256_loadu_si256((const __m256i *)(xu + r * in + j)), wv);
		}
		for (int r = 0; r < R; r++) {
			int32_t s = gollm_hsum_i32(acc[r]) - wsum[o];
			s += gollm_w8a8v_tail(wr + in32, xu + r * in + in32, in - in32);
			float v = (float)s * sx[r];
			v = v * sw[o];
			if (bias) v += bias[o];
			dst[r * out + o] = v;
		}
	}
}

GOLLM_VNNI static void gollm_w8a8v_rows(const int8_t *w, const int32_t *wsum, const uint8_t *xu, const float *sx,
		const float *sw, int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	int64_t r = 0;
	for (; r + 4 <= rows; r += 4)
		gollm_w8a8v_rows_r(4, w, wsum, xu + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1);
	switch (rows - r) {
	case 3: gollm_w8a8v_rows_r(3, w, wsum, xu + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1); break;
	case 2: gollm_w8a8v_rows_r(2, w, wsum, xu + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1); break;
	case 1: gollm_w8a8v_rows_r(1, w, wsum, xu + r * in, sx + r, sw, in, dst + r * out, out, bias, o0, o1); break;
	}
}

// Int8-activation group GEMV (quant_q8act.go): per 32-code block an integer
// dot product of the unsigned codes with the int8 activations, converted to
// float and scaled by the block's activation scale; per group one
// horizontal sum and y += s*(A - z*xs). GOLLM_Q8_BODY is the kernel body,
// instantiated once per instruction set with its dot product GOLLM_Q8_DOT
// (u8 codes x s8 activations -> 8 int32 partial sums).
GOLLM_AVX2 GOLLM_INLINE __m256i gollm_q8_dot_avx2(__m256i u, __m256i s, int cbits) {
	if (cbits == 4) // 2*15*127 fits int16: vpmaddubsw cannot saturate
		return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
	// 8-bit codes: 2*255*127 would saturate vpmaddubsw; widen to int16.
	__m256i lo = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(u)), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(s)));
	__m256i hi = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256(u, 1)), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(s, 1)));
	return _mm256_add_epi32(lo, hi);
}

// gollm_q8_load unpacks block b of a row into 32 u8 codes (4-bit: low
// nibbles then high nibbles).
#define GOLLM_Q8_LOAD(row, b, cbits) ((cbits) == 4 \
	? _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(_mm_loadu_si128((const __m128i *)((row) + (b) * 16)), 4), \
		_mm_loadu_si128((const __m128i *)((row) + (b) * 16))), _mm256_set1_epi8(15)) \
	: _mm256_loadu_si256((const __m256i *)((row) + (b) * 32)))

#define GOLLM_Q8_BLOCK(b, acc) do { \
	__m256i u = GOLLM_Q8_LOAD(row, b, cbits); \
	for (int r = 0; r < R; r++) { \
		__m256i d = GOLLM_Q8_DOT(u, _mm256_loadu_si256((const __m256i *)(xq + r * in + (b) * 32)), cbits); \
		acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_broadcast_ss(sx + r * nb + (b)), acc[r]); \
	} \
} while (0)

#define GOLLM_Q8_BODY \
	const int64_t bpg = gsize / 32, nb = in / 32, rowBytes = rowWords * 4; \
	for (int64_t o = o0; o < o1; o++) { \
		const uint8_t *row = (const uint8_t *)words + o * rowBytes; \
		float tot[4] = {0, 0, 0, 0}; \
		for (int64_t g = 0; g < groups; g++) { \
			__m256 a0[4], a1[4]; \
			for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_ps(); \
			int64_t b = g * bpg, be = b + bpg; \
			for (; b + 2 <= be; b += 2) { \
				_mm_prefetch((const char *)(row + b * cbits * 4) + GOLLM_PF, _MM_HINT_T0); \
				GOLLM_Q8_BLOCK(b, a0); \
				GOLLM_Q8_BLOCK(b + 1, a1); \
			} \
			if (b < be) { \
				_mm_prefetch((const char *)(row + b * cbits * 4) + GOLLM_PF, _MM_HINT_T0); \
				GOLLM_Q8_BLOCK(b, a0); \
			} \
			const float s = scales[o * groups + g], z = zeros[o * groups + g]; \
			for (int r = 0; r < R; r++) { \
				float a = gollm_hsum(_mm256_add_ps(a0[r], a1[r])); \
				float c = z * xs[r * groups + g]; \
				tot[r] += s * (a - c); \
			} \
		} \
		for (int r = 0; r < R; r++) { \
			float v = tot[r]; \
			if (bias) v += bias[o]; \
			dst[r * out + o] = v; \
		} \
	}

#define GOLLM_Q8_ARGS int R, int cbits, const uint32_t *words, int64_t rowWords, const float *scales, \
	const float *zeros, int64_t groups, int64_t gsize, const int8_t *xq, const float *sx, const float *xs, \
	int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1
#define GOLLM_Q8_PASS(R, CB) R, CB, words, rowWords, scales, zeros, groups, gsize, xq + r * in, sx + r * nb, \
	xs + r * groups, in, dst + r * out, out, bias, o0, o1

// GOLLM_Q8_DEF defines gollm_q8_rows_<NAME> (any rows, 4 per pass) for one
// instruction set.
#define GOLLM_Q8_DEF(NAME, TARGET) \
TARGET GOLLM_INLINE void gollm_q8_r_##NAME(GOLLM_Q8_ARGS) { GOLLM_Q8_BODY } \
TARGET static void gollm_q8_c##NAME(int CB, const uint32_t *words, int64_t rowWords, const float *scales, \
		const float *zeros, int64_t groups, int64_t gsize, const int8_t *xq, const float *sx, const float *xs, \
		int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) { \
	const int64_t nb = in / 32; \
	int64_t r = 0; \
	for (; r + 4 <= rows; r += 4) gollm_q8_r_##NAME(GOLLM_Q8_PASS(4, CB)); \
	switch (rows - r) { \
	case 3: gollm_q8_r_##NAME(GOLLM_Q8_PASS(3, CB)); break; \
	case 2: gollm_q8_r_##NAME(GOLLM_Q8_PASS(2, CB)); break; \
	case 1: gollm_q8_r_##NAME(GOLLM_Q8_PASS(1, CB)); break; \
	} \
} \
TARGET static void gollm_q8_rows_##NAME(int cbits, const uint32_t *words, int64_t rowWords, const float *scales, \
		const float *zeros, int64_t groups, int64_t gsize, const int8_t *xq, const float *sx, const float *xs, \
		int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) { \
	if (cbits == 4) gollm_q8_c##NAME(4, words, rowWords, scales, zeros, groups, gsize, xq, sx, xs, rows, in, dst, out, bias, o0, o1); \
	else gollm_q8_c##NAME(8, words, rowWords, scales, zeros, groups, gsize, xq, sx, xs, rows, in, dst, out, bias, o0, o1); \
}

#define GOLLM_Q8_DOT(u, s, cbits) gollm_q8_dot_avx2(u, s, cbits)
GOLLM_Q8_DEF(avx2, GOLLM_AVX2)
#undef GOLLM_Q8_DOT
#define GOLLM_Q8_DOT(u, s, cbits) _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s)
GOLLM_Q8_DEF(vnni512, GOLLM_VNNI)
#undef GOLLM_Q8_DOT
#define GOLLM_AVXVNNI __attribute__((target("avxvnni,avx2,fma")))
#define GOLLM_Q8_DOT(u, s, cbits) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s)
GOLLM_Q8_DEF(avxvnni, GOLLM_AVXVNNI)
#undef GOLLM_Q8_DOT

// gollm_q8_quantize quantizes rows x rows (stored order, in a multiple of
// 32) per 32-column block as quantizeQ8Rows does (quant_q8act.go), bit for
// bit: float32 max|x|, d = amax/127, id = 1/d, round-to-nearest-even of
// x*id (exact in float32), the 4-bit containers' even/odd order, and the
// group sums xs in block order (fp-contract is off).
GOLLM_AVX2 static void gollm_q8_quantize(const float *x, int64_t rows, int64_t in, int64_t gsize, int cbits,
		int8_t *xq, float *sx, float *xs) {
	const __m256 sign = _mm256_set1_ps(-0.0f);
	const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	const __m256i evenodd = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
		0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
	const int64_t nb = in / 32, bpg = gsize / 32, groups = in / gsize;
	for (int64_t r = 0; r < rows; r++) {
		for (int64_t g = 0; g < groups; g++) {
			float acc = 0;
			for (int64_t b = g * bpg; b < (g + 1) * bpg; b++) {
				const float *xb = x + r * in + b * 32;
				__m256 v[4];
				for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(xb + 8 * i);
				__m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
					_mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
				__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
				h = _mm_max_ps(h, _mm_movehl_ps(h, h));
				h = _mm_max_ss(h, _mm_movehdup_ps(h));
				const float amax = _mm_cvtss_f32(h);
				const float d = amax / 127.0f;
				const float id = d != 0 ? 1.0f / d : 0.0f;
				const __m256 vid = _mm256_set1_ps(id);
				__m256i q[4];
				for (int i = 0; i < 4; i++)
					q[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[i], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
				const int32_t sum = gollm_hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
				__m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
				p = _mm256_permutevar8x32_epi32(p, perm); // natural order
				if (cbits == 4) p = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(p, evenodd), 0xD8);
				_mm256_storeu_si256((__m256i *)(xq + r * in + b * 32), p);
				sx[r * nb + b] = d;
				acc += d * (float)sum;
			}
			xs[r * groups + g] = acc;
		}
	}
}

// gollm_avxvnni_ok: the VEX-encoded VNNI of CPUs without AVX-512 (Intel
// Alder Lake and later, AMD Zen 5 has both).
static int gollm_avxvnni_ok(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avxvnni");
}

// gollm_q8_rows runs the int8-activation kernel of instruction set isa
// (3 AVX-512 VNNI, 2 AVX-VNNI, 1 AVX2).
static void gollm_q8_rows(int isa, int cbits, const uint32_t *words, int64_t rowWords, const float *scales,
		const float *zeros, int64_t groups, int64_t gsize, const int8_t *xq, const float *sx, const float *xs,
		int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	switch (isa) {
	case 3: gollm_q8_rows_vnni512(cbits, words, rowWords, scales, zeros, groups, gsize, xq, sx, xs, rows, in, dst, out, bias, o0, o1); break;
	case 2: gollm_q8_rows_avxvnni(cbits, words, rowWords, scales, zeros, groups, gsize, xq, sx, xs, rows, in, dst, out, bias, o0, o1); break;
	default: gollm_q8_rows_avx2(cbits, words, rowWords, scales, zeros, groups, gsize, xq, sx, xs, rows, in, dst, out, bias, o0, o1); break;
	}
}

// 2:4 sparse: per 16 columns, 8 values and 16 bits of metadata.
GOLLM_AVX2 GOLLM_INLINE void gollm_sp24_rows_r(int R, const float *values, const uint8_t *meta, const float *x,
		int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	const __m256i sh = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
	const __m256i base = _mm256_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4);
	const __m256i m3 = _mm256_set1_epi32(3);
	const int64_t vrow = in / 2, mrow = (in + 7) / 8;
	for (int64_t o = o0; o < o1; o++) {
		const float *vr = values + o * vrow;
		const uint8_t *mr = meta + o * mrow;
		// A accumulators per x row (4/R) hide the FMA latency.
		const int A = R == 1 ? 4 : R == 2 ? 2 : 1;
		__m256 acc[4][4];
		for (int r = 0; r < R; r++)
			for (int a = 0; a < A; a++) acc[r][a] = _mm256_setzero_ps();
		const int64_t nt = in / 16;
		int64_t t = 0;
		for (; t + 4 <= nt; t += 4) {
			_mm_prefetch((const char *)(vr + 8 * t) + GOLLM_PF, _MM_HINT_T0);
			_mm_prefetch((const char *)(vr + 8 * t) + GOLLM_PF + 64, _MM_HINT_T0);
			if ((t & 31) == 0) _mm_prefetch((const char *)(mr + 2 * t) + GOLLM_PF / 8, _MM_HINT_T0);
			for (int u = 0; u < 4; u++) {
				const uint8_t *mp = mr + 2 * (t + u);
				uint32_t m16 = (uint32_t)mp[0] | (uint32_t)mp[1] << 8;
				__m256i idx = _mm256_add_epi32(_mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)m16), sh), m3), base);
				__m256 v = _mm256_loadu_ps(vr + 8 * (t + u));
				for (int r = 0; r < R; r++) {
					const float *xb = x + r * in + 16 * (t + u);
					__m256 xa = _mm256_permutevar8x32_ps(_mm256_loadu_ps(xb), idx);
					__m256 xc = _mm256_permutevar8x32_ps(_mm256_loadu_ps(xb + 8), idx);
					acc[r][u % A] = _mm256_fmadd_ps(v, _mm256_blend_ps(xa, xc, 0xF0), acc[r][u % A]);
				}
			}
		}
		for (; t < nt; t++) {
			uint32_t m16 = (uint32_t)mr[2 * t] | (uint32_t)mr[2 * t + 1] << 8;
			__m256i idx = _mm256_add_epi32(_mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)m16), sh), m3), base);
			__m256 v = _mm256_loadu_ps(vr + 8 * t);
			for (int r = 0; r < R; r++) {
				const float *xb = x + r * in + 16 * t;
				__m256 xa = _mm256_permutevar8x32_ps(_mm256_loadu_ps(xb), idx);
				__m256 xc = _mm256_permutevar8x32_ps(_mm256_loadu_ps(xb + 8), idx);
				acc[r][0] = _mm256_fmadd_ps(v, _mm256_blend_ps(xa, xc, 0xF0), acc[r][0]);
			}
		}
		for (int r = 0; r < R; r++) {
			__m256 a = acc[r][0];
			if (A == 4) a = _mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3]));
			if (A == 2) a = _mm256_add_ps(acc[r][0], acc[r][1]);
			float s = gollm_hsum(a);
			if (bias) s += bias[o];
			dst[r * out + o] = s;
		}
	}
}

GOLLM_AVX2 static void gollm_sp24_rows(const float *values, const uint8_t *meta, const float *x, int64_t rows,
		int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {
	int64_t r = 0;
	for (; r + 4 <= rows; r += 4)
		gollm_sp24_rows_r(4, values, meta, x + r * in, in, dst + r * out, out, bias, o0, o1);
	switch (rows - r) {
	case 3: gollm_sp24_rows_r(3, values, meta, x + r * in, in, dst + r * out, out, bias, o0, o1); break;
	case 2: gollm_sp24_rows_r(2, values, meta, x + r * in, in, dst + r * out, out, bias, o0, o1); break;
	case 1: gollm_sp24_rows_r(1, values, meta, x + r * in, in, dst + r * out, out, bias, o0, o1); break;
	}
}

#else // not x86-64 with GCC/Clang: the Go kernels run.
static int gollm_quant_ok(void) { return 0; }
static void gollm_qgroup_rows(int cbits, const uint32_t *words, int64_t rowWords, const float *scales,
		const float *zeros, int64_t groups, int64_t gsize, const float *x, int64_t rows, int64_t in,
		float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {}
static void gollm_w8a8_rows(const int8_t *w, const int8_t *q, const float *sx, const float *sw,
		int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {}
static void gollm_sp24_rows(const float *values, const uint8_t *meta, const float *x, int64_t rows,
		int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {}
static void gollm_qgroup_dequant(int cbits, const uint32_t *words, int64_t rowWords, const float *scales,
		const float *zeros, int64_t groups, int64_t gsize, int64_t in, float *dst, int64_t o0, int64_t o1) {}
static int gollm_vnni_ok(void) { return 0; }
static int gollm_avxvnni_ok(void) { return 0; }
static void gollm_q8_quantize(const float *x, int64_t rows, int64_t in, int64_t gsize, int cbits,
		int8_t *xq, float *sx, float *xs) {}
static void gollm_q8_rows(int isa, int cbits, const uint32_t *words, int64_t rowWords, const float *scales,
		const float *zeros, int64_t groups, int64_t gsize, const int8_t *xq, const float *sx, const float *xs,
		int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {}
static void gollm_w8a8v_rows(const int8_t *w, const int32_t *wsum, const uint8_t *xu, const float *sx,
		const float *sw, int64_t rows, int64_t in, float *dst, int64_t out, const float *bias, int64_t o0, int64_t o1) {}
#endif
*/
import "C"

import (
	"os"
	"unsafe"
)

// quantNativeOK reports whether the AVX2 kernels can run on this CPU;
// GOLLM_QUANT_KERNELS=go forces the pure-Go kernels (for comparisons).
var quantNativeOK = C.gollm_quant_ok() != 0 && os.Getenv("GOLLM_QUANT_KERNELS") != "go"

// w8a8VNNI reports whether the W8A8 kernel uses AVX512-VNNI
// (GOLLM_QUANT_KERNELS=avx2 keeps it on the AVX2 kernel).
var w8a8VNNI = quantNativeOK && C.gollm_vnni_ok() != 0 && os.Getenv("GOLLM_QUANT_KERNELS") != "avx2"

// QuantKernels names the quantized/sparse kernel implementation in use:
// "avx2", "avx2+vnni" (W8A8 on AVX512-VNNI) or "go".
func QuantKernels() string {
	switch {
	case w8a8VNNI:
		return "avx2+vnni"
	case quantNativeOK:
		return "avx2"
	}
	return "go"
}

// quantQ8Best is the best instruction set of the int8-activation group
// GEMV (quant_q8act.go) on this CPU: 3 AVX-512 VNNI, 2 AVX-VNNI, 1 AVX2,
// 0 none (no AVX2, or GOLLM_QUANT_KERNELS=go); GOLLM_QUANT_KERNELS=avx2
// keeps it on AVX2.
var quantQ8Best = func() int {
	switch {
	case !quantNativeOK:
		return 0
	case os.Getenv("GOLLM_QUANT_KERNELS") == "avx2":
		return 1
	case C.gollm_vnni_ok() != 0:
		return 3
	case C.gollm_avxvnni_ok() != 0:
		return 2
	}
	return 1
}()

// quantQ8ISA is the instruction set the int8-activation kernel runs on, 0
// while it is off. It is off unless GOLLM_QUANT_ACT=int8 or
// SetQuantActInt8(true): int8 activations move logits by ~1e-2, outside
// the 1e-4 the packed-format round-trip tests hold the float kernels to.
var quantQ8ISA = func() int {
	if os.Getenv("GOLLM_QUANT_ACT") == "int8" {
		return quantQ8Best
	}
	return 0
}()

// SetQuantActInt8 turns the int8-activation kernel of the int4/int8
// group-quantized GEMV on or off (see QuantActKernel) and reports whether
// it is now on (false where the CPU or the build has none). Call it before
// running a model, not while MulT runs.
func SetQuantActInt8(on bool) bool {
	if on {
		quantQ8ISA = quantQ8Best
	} else {
		quantQ8ISA = 0
	}
	return quantQ8ISA != 0
}

// QuantActKernel names the kernel of the int4/int8 group-quantized GEMV
// (batches below 16 rows): "f32-act" (codes unpacked to float32, the
// default; always in the pure-Go build and on CPUs without AVX2) or, when
// turned on (SetQuantActInt8, GOLLM_QUANT_ACT=int8), "int8-act/avx512vnni",
// "int8-act/avxvnni" or "int8-act/avx2" (activations quantized per
// 32-column block to int8, integer dot products).
func QuantActKernel() string {
	return [...]string{"f32-act", "int8-act/avx2", "int8-act/avxvnni", "int8-act/avx512vnni"}[quantQ8ISA]
}

// quantQ8BestISA returns quantQ8Best, for the benchmarks.
func quantQ8BestISA() int { return quantQ8Best }

// quantQ8Select sets the int8-activation kernel's instruction set (0 turns
// it off) and returns the previous one, for tests and benchmarks comparing
// them; not safe while MulT runs.
func quantQ8Select(isa int) int {
	old := quantQ8ISA
	if isa == 0 || quantQ8Has(isa) {
		quantQ8ISA = isa
	}
	return old
}

// quantizeQ8RowsNative is quantizeQ8Rows in AVX2 (bit for bit the same
// result for finite x), used when the int8-activation kernel runs.
func quantizeQ8RowsNative(xq []int8, sx, xs, x []float32, rows, in, G, cbits int) {
	C.gollm_q8_quantize(f32p(x), C.int64_t(rows), C.int64_t(in), C.int64_t(G), C.int(cbits),
		(*C.int8_t)(unsafe.Pointer(&xq[0])), f32p(sx), f32p(xs))
}

// quantQ8Native reports whether the int8-activation kernel runs.
func quantQ8Native() bool { return quantQ8ISA != 0 }

// quantQ8Has reports whether this CPU runs the int8-activation kernel of
// instruction set isa (the levels of quantQ8ISA), for the tests.
func quantQ8Has(isa int) bool {
	switch isa {
	case 1:
		return quantNativeOK
	case 2:
		return quantNativeOK && C.gollm_avxvnni_ok() != 0
	case 3:
		return quantNativeOK && C.gollm_vnni_ok() != 0
	}
	return false
}

// quantQ8Kernel runs the int8-activation kernel for outputs [o0, o1).
func quantQ8Kernel(m *QuantGroupMatrix, dst []float32, xq []int8, sx, xs []float32, rows int, bias []float32, o0, o1 int) {
	quantQ8KernelISA(quantQ8ISA, m, dst, xq, sx, xs, rows, bias, o0, o1)
}

// quantQ8KernelISA is quantQ8Kernel on instruction set isa (which must be
// one quantQ8Has reports).
func quantQ8KernelISA(isa int, m *QuantGroupMatrix, dst []float32, xq []int8, sx, xs []float32, rows int, bias []float32, o0, o1 int) {
	if o0 >= o1 {
		return
	}
	C.gollm_q8_rows(C.int(isa), C.int(m.cbits), (*C.uint32_t)(unsafe.Pointer(&m.words[0])), C.int64_t(m.rowWords),
		f32p(m.scales), f32p(m.zeros), C.int64_t(m.groups), C.int64_t(m.uniformG),
		(*C.int8_t)(unsafe.Pointer(&xq[0])), f32p(sx), f32p(xs), C.int64_t(rows), C.int64_t(m.in),
		f32p(dst), C.int64_t(m.out), f32p(bias), C.int64_t(o0), C.int64_t(o1))
}

func f32p(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

// quantGroupNative runs the AVX2 group kernel for outputs [o0, o1) and
// reports whether it did (m has uniform groups of a multiple of 32).
func quantGroupNative(m *QuantGroupMatrix, dst, x []float32, rows int, bias []float32, o0, o1 int) bool {
	if !quantNativeOK || o0 >= o1 {
		return quantNativeOK
	}
	// The kernel reads x as blocks of 32 per row: in must be a multiple of
	// 32 here, which uniform groups of a multiple of 32 guarantee.
	C.gollm_qgroup_rows(C.int(m.cbits), (*C.uint32_t)(unsafe.Pointer(&m.words[0])), C.int64_t(m.rowWords),
		f32p(m.scales), f32p(m.zeros), C.int64_t(m.groups), C.int64_t(m.uniformG),
		f32p(x), C.int64_t(rows), C.int64_t(m.in), f32p(dst), C.int64_t(m.out), f32p(bias), C.int64_t(o0), C.int64_t(o1))
	return true
}

// quantDequantNative writes rows [o0, o1) of m (uniform groups of a
// multiple of 32) in stored order with the AVX2 unpacker.
func quantDequantNative(m *QuantGroupMatrix, dst []float32, o0, o1 int) bool {
	if !quantNativeOK || o0 >= o1 {
		return quantNativeOK
	}
	C.gollm_qgroup_dequant(C.int(m.cbits), (*C.uint32_t)(unsafe.Pointer(&m.words[0])), C.int64_t(m.rowWords),
		f32p(m.scales), f32p(m.zeros), C.int64_t(m.groups), C.int64_t(m.uniformG), C.int64_t(m.in), f32p(dst), C.int64_t(o0), C.int64_t(o1))
	return true
}

// w8a8UseVNNI reports whether MulT should hand w8a8Native unsigned
// (offset) activations for the VNNI kernel.
func w8a8UseVNNI() bool { return w8a8VNNI }

// w8a8Native runs the VNNI (xu non-nil) or AVX2 W8A8 kernel for outputs
// [o0, o1).
func w8a8Native(m *QuantW8A8Matrix, dst []float32, q []int8, xu []uint8, sx []float32, rows int, bias []float32, o0, o1 int) bool {
	if !quantNativeOK || o0 >= o1 {
		return quantNativeOK
	}
	if xu != nil {
		C.gollm_w8a8v_rows((*C.int8_t)(unsafe.Pointer(&m.w[0])), (*C.int32_t)(unsafe.Pointer(&m.wsum[0])), (*C.uint8_t)(unsafe.Pointer(&xu[0])),
			f32p(sx), f32p(m.scales), C.int64_t(rows), C.int64_t(m.in), f32p(dst), C.int64_t(m.out), f32p(bias), C.int64_t(o0), C.int64_t(o1))
		return true
	}
	C.gollm_w8a8_rows((*C.int8_t)(unsafe.Pointer(&m.w[0])), (*C.int8_t)(unsafe.Pointer(&q[0])), f32p(sx), f32p(m.scales),
		C.int64_t(rows), C.int64_t(m.in), f32p(dst), C.int64_t(m.out), f32p(bias), C.int64_t(o0), C.int64_t(o1))
	return true
}

// sparse24Native runs the AVX2 2:4 kernel for outputs [o0, o1) (in a
// multiple of 16).
func sparse24Native(m *Sparse24Matrix, dst, x []float32, rows int, bias []float32, o0, o1 int) bool {
	if !quantNativeOK || o0 >= o1 {
		return quantNativeOK
	}
	C.gollm_sp24_rows(f32p(m.values), (*C.uint8_t)(unsafe.Pointer(&m.meta[0])), f32p(x), C.int64_t(rows),
		C.int64_t(m.in), f32p(dst), C.int64_t(m.out), f32p(bias), C.int64_t(o0), C.int64_t(o1))
	return true
}
