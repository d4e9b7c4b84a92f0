// rope.cu — rotary position embedding, in place, and the KV-cache store.
//
// rope_f32 rotates pairs of each head of x [rows, heads·headDim]; row r is
// at position pos0 + r. half = rotDim/2 inverse frequencies; dimensions past
// rotDim pass through (partial rotary, e.g. ChatGLM's half-head rotary).
// Pairing: interleaved → (2i, 2i+1) (ChatGLM, GPT-J); otherwise
// (i, i + half) (LLaMA's rotate_half). The angle is computed in f32
// (pos · inv_freq, as PyTorch) and its cosine and sine in f64, matching the
// CPU reference bit for bit before the final multiply-adds.
//
// store_kv_T writes k and v [rows, kvDim] (f32) into one layer's cache
// [maxLen, kvDim] (T) at positions pos0…, narrowing to the cache dtype.
//
// rope_store_T fuses the three steps every attention layer starts with —
// RoPE on q, RoPE on k, storing k and v — into one launch (decode runs them
// once per layer per token, each a few-µs kernel). Its work items, flattened
// per row: q pairs, k pairs (rotated k written to k and to the cache), k's
// pass-through dimensions, v; none depends on another, so any grid works.
#include "common.cuh"

__device__ __forceinline__ void rope_angle(int pos, const float* inv_freq, int i, float scale, float* cf, float* sf) {
  const float ang = (float)pos * inv_freq[i];
  double s, c;
  sincos((double)ang, &s, &c);
  *cf = (float)c * scale;
  *sf = (float)s * scale;
}

extern "C" __global__ void rope_f32(float* x, const float* inv_freq, int rows, int heads, int head_dim, int half,
                                    int pos0, int interleaved, float scale) {
  const int width = heads * head_dim;
  for (int r = blockIdx.y; r < rows; r += gridDim.y) {
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < heads * half; t += gridDim.x * blockDim.x) {
      const int h = t / half, i = t - h * half;
      float cf, sf;
      rope_angle(pos0 + r, inv_freq, i, scale, &cf, &sf);
      const long long base = (long long)r * width + h * head_dim;
      const long long a = interleaved ? base + 2 * i : base + i;
      const long long b = interleaved ? base + 2 * i + 1 : base + i + half;
      const float x0 = x[a], x1 = x[b];
      x[a] = x0 * cf - x1 * sf;
      x[b] = x1 * cf + x0 * sf;
    }
  }
}

template <typename T>
__device__ void store_kv(T* kc, T* vc, const float* k, const float* v, int pos0, int n /*rows·kvDim*/, int kv_dim) {
  T* kd = kc + (long long)pos0 * kv_dim;
  T* vd = vc + (long long)pos0 * kv_dim;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    kd[i] = from_f32<T>(k[i]);
    vd[i] = from_f32<T>(v[i]);
  }
}

#define DEF_STORE_KV(T, S)                                                                              \
  extern "C" __global__ void store_kv_##S(T* kc, T* vc, const float* k, const float* v, int pos0, int n, \
                                          int kv_dim) {                                                 \
    store_kv<T>(kc, vc, k, v, pos0, n, kv_dim);                                                         \
  }
GOLLM_EACH_DTYPE(DEF_STORE_KV)

template <typename T>
__device__ void rope_store(float* q, float* k, const float* v, T* kc, T* vc, const float* inv_freq, int rows, int heads,
                           int kv_heads, int hd, int half, int pos0, int interleaved, float scale) {
  const int qpairs = heads * half, kpairs = kv_heads * half, kv_dim = kv_heads * hd;
  const int pass = hd - 2 * half;  // k dimensions past the rotary ones, per head
  const int per_row = qpairs + kpairs + kv_heads * pass + kv_dim;
  for (int r = blockIdx.y; r < rows; r += gridDim.y) {
    const int pos = pos0 + r;
    const long long kcrow = (long long)pos * kv_dim;
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < per_row; t += gridDim.x * blockDim.x) {
      if (t < qpairs + kpairs) {
        const bool isq = t < qpairs;
        const int tt = isq ? t : t - qpairs;
        const int h = tt / half, i = tt - h * half;
        float cf, sf;
        rope_angle(pos, inv_freq, i, scale, &cf, &sf);
        float* x = isq ? q + (long long)r * heads * hd : k + (long long)r * kv_dim;
        const int a = h * hd + (interleaved ? 2 * i : i);
        const int b = h * hd + (interleaved ? 2 * i + 1 : i + half);
        const float x0 = x[a], x1 = x[b];
        const float y0 = x0 * cf - x1 * sf, y1 = x1 * cf + x0 * sf;
        x[a] = y0;
        x[b] = y1;
        if (!isq) {
          kc[kcrow + a] = from_f32<T>(y0);
          kc[kcrow + b] = from_f32<T>(y1);
        }
      } else if (t < qpairs + kpairs + kv_heads * pass) {
        const int tt = t - qpairs - kpairs;
        const int h = tt / pass, e = 2 * half + (tt - h * pass);
        kc[kcrow + h * hd + e] = from_f32<T>(k[(long long)r * kv_dim + h * hd + e]);
      } else {
        const int e = t - qpairs - kpairs - kv_heads * pass;
        vc[kcrow + e] = from_f32<T>(v[(long long)r * kv_dim + e]);
      }
    }
  }
}

#define DEF_ROPE_STORE(T, S)                                                                                        \
  extern "C" __global__ void rope_store_##S(float* q, float* k, const float* v, T* kc, T* vc, const float* inv_freq, \
                                            int rows, int heads, int kv_heads, int hd, int half, int pos0,           \
                                            int interleaved, float scale) {                                          \
    rope_store<T>(q, k, v, kc, vc, inv_freq, rows, heads, kv_heads, hd, half, pos0, interleaved, scale);           \
  }
GOLLM_EACH_DTYPE(DEF_ROPE_STORE)
