// attention.cu — causal multi-head attention over the KV cache.
//
// attn_split_T is "flash-decoding": the keys of each (query row, head) are
// cut into nsplit chunks of `chunk` positions; block (head, row, split)
// computes, for its chunk, the scores s_j = scale·q·k_j, their maximum m,
// l = Σ exp(s_j − m) and o = Σ exp(s_j − m)·v_j. With nsplit == 1 it
// writes o / l straight into out; otherwise attn_combine_f32 merges the
// partial (m, l, o) of the splits with the usual log-sum-exp rescaling.
// Splitting the keys is what keeps all SMs busy at batch 1, where there are
// only `heads` (query row, head) pairs.
//
// Layouts: q and out [rows, heads·hd] f32; the layer's cache kc, vc
// [maxLen, kvHeads·hd] in T (query head h reads kv head h / (heads/kvHeads));
// partials part_o [rows, heads, nsplit, hd] and part_ml [rows, heads, nsplit, 2]
// (f32). Row r (position pos0 + r) sees keys 0 … pos0 + r.
//
// Roofline (decode, batch 1): the kernel reads the cache once —
// 2·ctx·kvHeads·hd·sizeof(T) bytes — with 4·ctx·heads·hd FLOPs, so it is
// memory-bound: LLaMA-2-7B at 2048 positions reads 32 MB per layer, 1 GB per
// token in f16 (7% of the weights' 13.5 GB). At short contexts it is
// latency-bound (a few µs), so the loops keep several loads in flight.
//
// softmax_causal_T is the middle step of the GEMM formulation used for long
// prefills (S = scale·Q·Kᵀ and O = P·V by cuBLAS): it turns the f32 scores
// S [heads, rows, total] into probabilities P in T, zero past the diagonal.
#include "common.cuh"

#define ATTN_MAX_HEAD_DIM 512
#define ATTN_MAX_CHUNK 1024

template <typename T>
__device__ void attn_split(float* out, float* part_o, float* part_ml, const float* q, const T* kc, const T* vc, int pos0,
                           int heads, int kv_heads, int hd, float scale, int chunk, int nsplit) {
  __shared__ float qs[ATTN_MAX_HEAD_DIM];
  __shared__ float sc[ATTN_MAX_CHUNK];
  __shared__ float red[32];
  const int h = blockIdx.x, r = blockIdx.y, s = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  const int width = heads * hd, kv_width = kv_heads * hd;
  const int kv_off = (h / (heads / kv_heads)) * hd;
  const int n = pos0 + r + 1;
  const int j0 = s * chunk;
  const int j1 = min(j0 + chunk, n);
  const int len = max(j1 - j0, 0);

  for (int e = threadIdx.x; e < hd; e += blockDim.x) qs[e] = q[(long long)r * width + h * hd + e];
  __syncthreads();

  // Scores: each warp takes 4 keys at a time, lanes over the head
  // dimensions; the 4 keys' loads are independent, so each lane keeps
  // several in flight (decode has few blocks: latency, not bandwidth, is the
  // limit at short contexts).
  for (int j = warp * 4; j < len; j += nwarps * 4) {
    const T* kr[4];
#pragma unroll
    for (int u = 0; u < 4; u++) kr[u] = kc + (long long)(j0 + min(j + u, len - 1)) * kv_width + kv_off;
    float d[4] = {0.f, 0.f, 0.f, 0.f};
    for (int e = lane; e < hd; e += 32) {
      const float qe = qs[e];
#pragma unroll
      for (int u = 0; u < 4; u++) d[u] += qe * to_f32(kr[u][e]);
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
      const float v = warp_sum(d[u]);
      if (lane == 0 && j + u < len) sc[j + u] = v * scale;
    }
  }
  __syncthreads();

  float m = -INFINITY;
  for (int j = threadIdx.x; j < len; j += blockDim.x) m = fmaxf(m, sc[j]);
  m = block_max(m, red);
  float l = 0.f;
  for (int j = threadIdx.x; j < len; j += blockDim.x) {
    const float p = expf(sc[j] - m);
    sc[j] = p;
    l += p;
  }
  l = block_sum(l, red);  // its __syncthreads also publishes sc

  // Output: threads over the head dimensions, keys in order.
  const long long pidx = ((long long)r * heads + h) * nsplit + s;
  for (int e = threadIdx.x; e < hd; e += blockDim.x) {
    const T* vcol = vc + (long long)j0 * kv_width + kv_off + e;
    // Four independent accumulators: four loads in flight per thread.
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
    int j = 0;
#pragma unroll 2
    for (; j + 4 <= len; j += 4) {
      a0 += sc[j] * to_f32(vcol[(long long)j * kv_width]);
      a1 += sc[j + 1] * to_f32(vcol[(long long)(j + 1) * kv_width]);
      a2 += sc[j + 2] * to_f32(vcol[(long long)(j + 2) * kv_width]);
      a3 += sc[j + 3] * to_f32(vcol[(long long)(j + 3) * kv_width]);
    }
    for (; j < len; j++) a0 += sc[j] * to_f32(vcol[(long long)j * kv_width]);
    const float acc = (a0 + a1) + (a2 + a3);
    if (nsplit == 1)
      out[(long long)r * width + h * hd + e] = acc / l;
    else
      part_o[pidx * hd + e] = acc;
  }
  if (nsplit > 1 && threadIdx.x == 0) {
    part_ml[pidx * 2] = m;
    part_ml[pidx * 2 + 1] = l;
  }
}

// attn_combine_f32 merges the splits: grid (heads, rows), threads over hd.
extern "C" __global__ void attn_combine_f32(float* out, const float* part_o, const float* part_ml, int heads, int hd,
                                            int nsplit) {
  const int h = blockIdx.x, r = blockIdx.y;
  const long long base = ((long long)r * heads + h) * nsplit;
  float m = -INFINITY;
  for (int s = 0; s < nsplit; s++) m = fmaxf(m, part_ml[(base + s) * 2]);
  float den = 0.f;
  for (int s = 0; s < nsplit; s++) {
    const float l = part_ml[(base + s) * 2 + 1];
    if (l > 0.f) den += expf(part_ml[(base + s) * 2] - m) * l;
  }
  for (int e = threadIdx.x; e < hd; e += blockDim.x) {
    float num = 0.f;
    for (int s = 0; s < nsplit; s++) {
      if (part_ml[(base + s) * 2 + 1] > 0.f) num += expf(part_ml[(base + s) * 2] - m) * part_o[(base + s) * hd + e];
    }
    out[(long long)r * heads * hd + h * hd + e] = num / den;
  }
}

// softmax_causal: grid (rows, heads); S and P are [heads, rows, total].
template <typename T>
__device__ void softmax_causal(T* p, const float* s, int rows, int total, int pos0) {
  __shared__ float red[32];
  const int r = blockIdx.x, h = blockIdx.y;
  const long long off = ((long long)h * rows + r) * total;
  const int n = pos0 + r + 1;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, s[off + j]);
  m = block_max(m, red);
  float l = 0.f;
  for (int j = threadIdx.x; j < n; j += blockDim.x) l += expf(s[off + j] - m);
  const float inv = 1.f / block_sum(l, red);
  for (int j = threadIdx.x; j < total; j += blockDim.x)
    p[off + j] = from_f32<T>(j < n ? expf(s[off + j] - m) * inv : 0.f);
}

#define DEF_ATTENTION(T, S)                                                                                         \
  extern "C" __global__ void attn_split_##S(float* out, float* part_o, float* part_ml, const float* q, const T* kc, \
                                            const T* vc, int pos0, int heads, int kv_heads, int hd, float scale,   \
                                            int chunk, int nsplit) {                                               \
    attn_split<T>(out, part_o, part_ml, q, kc, vc, pos0, heads, kv_heads, hd, scale, chunk, nsplit);               \
  }                                                                                                                 \
  extern "C" __global__ void softmax_causal_##S(T* p, const float* s, int rows, int total, int pos0) {             \
    softmax_causal<T>(p, s, rows, total, pos0);                                                                     \
  }
GOLLM_EACH_DTYPE(DEF_ATTENTION)
