// gemm.cu — y = x·Wᵀ (+ bias) for many rows, without cuBLAS.
//
// The engine multiplies prefill batches with cuBLAS (tensor cores) when the
// library loads; this classic shared-memory tiled kernel is the fallback
// (and the reference the cuBLAS path is checked against). x [M, K] f32,
// W [N, K] in T, y [M, N] f32, bias [N] f32 or null. A block computes a
// 64×64 tile of y with 256 threads (4×4 outputs each), stepping through K
// in slices of 16; both operands are staged in shared memory as f32.
// Arithmetic intensity is 64·64·2/(64+64)/4 = 16 FLOP per byte loaded from
// L2 per slice, far from tensor-core speed: correct first, fast via cuBLAS.
#include "common.cuh"

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16

template <typename T>
__device__ void gemm_tiled(float* y, const float* x, const T* w, const float* bias, int M, int N, int K,
                           int accumulate) {
  __shared__ float xs[GEMM_BK][GEMM_BM + 4];
  __shared__ float ws[GEMM_BK][GEMM_BN + 4];
  const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
  const int m0 = blockIdx.y * GEMM_BM, n0 = blockIdx.x * GEMM_BN;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
  for (int k0 = 0; k0 < K; k0 += GEMM_BK) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int idx = threadIdx.x + i * 256;
      const int rr = idx / GEMM_BK, kk = idx % GEMM_BK;
      const int gk = k0 + kk;
      const int gm = m0 + rr, gn = n0 + rr;
      xs[kk][rr] = (gm < M && gk < K) ? x[(long long)gm * K + gk] : 0.f;
      ws[kk][rr] = (gn < N && gk < K) ? to_f32(w[(long long)gn * K + gk]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < GEMM_BK; kk++) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) a[i] = xs[kk][ty * 4 + i];
#pragma unroll
      for (int j = 0; j < 4; j++) b[j] = ws[kk][tx * 4 + j];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int gm = m0 + ty * 4 + i;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int gn = n0 + tx * 4 + j;
      if (gn < N) {
        float* yo = y + (long long)gm * N + gn;
        const float r = acc[i][j] + (bias ? bias[gn] : 0.f);
        *yo = accumulate ? *yo + r : r;
      }
    }
  }
}

#define DEF_GEMM(T, S)                                                                                           \
  extern "C" __global__ void gemm_##S(float* y, const float* x, const T* w, const float* bias, int M, int N, int K, \
                                      int accumulate) {                                                          \
    gemm_tiled<T>(y, x, w, bias, M, N, K, accumulate);                                                           \
  }
GOLLM_EACH_DTYPE(DEF_GEMM)
