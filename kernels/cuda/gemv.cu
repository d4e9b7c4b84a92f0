// gemv.cu — y = x·Wᵀ (+ bias) for a few rows of x: batch-1 decode.
//
// W is [out, in] row-major in T (PyTorch's nn.Linear layout), x is [M, in]
// f32 (M ≤ 4 rows), y is [M, out] f32, bias [out] f32 or null. With
// accumulate ≠ 0 the result is added to y (y += x·Wᵀ + bias: the residual
// connection after an attention or MLP output projection, fused).
//
// Roofline: every weight is read once per call and used M times, so with
// M = 1 the kernel does 2 FLOPs per 2-byte f16 weight (1 FLOP/byte) and is
// bound by memory bandwidth: LLaMA-2-7B's 4096×11008 f16 matrix is 90 MB,
// 19 µs at the H200's 4.8 TB/s nominal (about 21 µs at the 4.23 TB/s a
// device copy reaches). Design for that bound:
//   - one warp per R output rows, 8 warps per block, so a 4096-row matrix
//     spreads over 512/R blocks and every SM has many warps in flight;
//   - 128-bit loads of 8 weights per lane (ld.global.cs: streamed, evict
//     first), lanes covering 32 consecutive 16-byte vectors — each warp load
//     instruction moves 512 contiguous bytes;
//   - the loop is unrolled so that each lane has several independent loads
//     outstanding (Little's law: ~2–3 MB in flight over the chip);
//   - x (16 KB for in = 4096) is read through the read-only cache and
//     reused by all R rows of the warp; f32 accumulation, one warp
//     reduction (5 shuffles) per output at the end.
// gemv_vec needs in % 8 == 0 (16-byte aligned rows); gemv_any handles any
// width with scalar loads.
#include "common.cuh"

template <typename T, int M, int R>
__device__ void gemv_vec(float* y, const T* w, const float* x, const float* bias, int out, int in, int accumulate) {
  const int lane = threadIdx.x & 31;
  const int o0 = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) * R;
  if (o0 >= out) return;  // whole warp: no block-level synchronisation below
  const T* wr[R];
#pragma unroll
  for (int rr = 0; rr < R; rr++) wr[rr] = w + (long long)min(o0 + rr, out - 1) * in;
  float acc[M][R];
#pragma unroll
  for (int m = 0; m < M; m++)
#pragma unroll
    for (int rr = 0; rr < R; rr++) acc[m][rr] = 0.f;
  const int n8 = in >> 3;
#pragma unroll 4
  for (int k8 = lane; k8 < n8; k8 += 32) {
    float wv[R][8];
#pragma unroll
    for (int rr = 0; rr < R; rr++) load8(wr[rr] + (long long)k8 * 8, wv[rr]);
#pragma unroll
    for (int m = 0; m < M; m++) {
      const float4* xp = reinterpret_cast<const float4*>(x + (long long)m * in) + 2 * k8;
      const float4 a = __ldg(xp), b = __ldg(xp + 1);
      const float xv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
      for (int rr = 0; rr < R; rr++)
#pragma unroll
        for (int i = 0; i < 8; i++) acc[m][rr] += wv[rr][i] * xv[i];
    }
  }
#pragma unroll
  for (int m = 0; m < M; m++)
#pragma unroll
    for (int rr = 0; rr < R; rr++) {
      const float v = warp_sum(acc[m][rr]);
      if (lane == 0 && o0 + rr < out) {
        float* yo = y + (long long)m * out + o0 + rr;
        const float r = v + (bias ? bias[o0 + rr] : 0.f);
        *yo = accumulate ? *yo + r : r;
      }
    }
}

template <typename T, int M>
__device__ void gemv_any(float* y, const T* w, const float* x, const float* bias, int out, int in, int accumulate) {
  const int lane = threadIdx.x & 31;
  const int o = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (o >= out) return;
  const T* wr = w + (long long)o * in;
  float acc[M];
#pragma unroll
  for (int m = 0; m < M; m++) acc[m] = 0.f;
  for (int k = lane; k < in; k += 32) {
    const float wv = to_f32(wr[k]);
#pragma unroll
    for (int m = 0; m < M; m++) acc[m] += wv * x[(long long)m * in + k];
  }
#pragma unroll
  for (int m = 0; m < M; m++) {
    const float v = warp_sum(acc[m]);
    if (lane == 0) {
      float* yo = y + (long long)m * out + o;
      const float r = v + (bias ? bias[o] : 0.f);
      *yo = accumulate ? *yo + r : r;
    }
  }
}

#define DEF_GEMV_VEC(T, S, M, R)                                                                                      \
  extern "C" __global__ void gemv_##S##_m##M##_r##R(float* y, const T* w, const float* x, const float* bias, int out, \
                                                    int in, int accumulate) {                                         \
    gemv_vec<T, M, R>(y, w, x, bias, out, in, accumulate);                                                                        \
  }
#define DEF_GEMV_ANY(T, S, M)                                                                                          \
  extern "C" __global__ void gemv_any_##S##_m##M(float* y, const T* w, const float* x, const float* bias, int out,   \
                                                 int in, int accumulate) {                                             \
    gemv_any<T, M>(y, w, x, bias, out, in, accumulate);                                                                            \
  }
#define DEF_GEMV(T, S)                                                                          \
  DEF_GEMV_VEC(T, S, 1, 1) DEF_GEMV_VEC(T, S, 1, 2) DEF_GEMV_VEC(T, S, 1, 4)                    \
  DEF_GEMV_VEC(T, S, 2, 1) DEF_GEMV_VEC(T, S, 2, 2) DEF_GEMV_VEC(T, S, 2, 4)                    \
  DEF_GEMV_VEC(T, S, 3, 1) DEF_GEMV_VEC(T, S, 3, 2) DEF_GEMV_VEC(T, S, 3, 4)                    \
  DEF_GEMV_VEC(T, S, 4, 1) DEF_GEMV_VEC(T, S, 4, 2) DEF_GEMV_VEC(T, S, 4, 4)                    \
  DEF_GEMV_ANY(T, S, 1) DEF_GEMV_ANY(T, S, 2) DEF_GEMV_ANY(T, S, 3) DEF_GEMV_ANY(T, S, 4)
GOLLM_EACH_DTYPE(DEF_GEMV)
