// elementwise.cu — gathers, adds, activations and copies over f32
// activations.
//
// All of these are memory-bound with trivial arithmetic: each moves its
// operands once (e.g. add reads 8 bytes and writes 4 per element) and
// should run at the device's copy bandwidth for large inputs. For batch-1
// decode they are tiny (one row of 4096 floats = 16 KB) and cost little
// more than their launch.
#include "common.cuh"

// grid-stride loop over n elements
#define FOR_EACH(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); i += (long long)gridDim.x * blockDim.x)

// add_f32: dst = a + b (dst may alias a or b).
extern "C" __global__ void add_f32(float* dst, const float* a, const float* b, int n) {
  FOR_EACH(i, n) dst[i] = a[i] + b[i];
}

// bias_f32: x[r, c] += bias[c] for x [n/cols, cols].
extern "C" __global__ void bias_f32(float* x, const float* bias, int cols, int n) {
  FOR_EACH(i, n) x[i] += bias[i % cols];
}

// silu(x) = x·sigmoid(x), with an accurate exp as the CPU reference uses.
__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }

// swiglu_f32: dst = silu(gate) ⊙ up (dst may alias either).
extern "C" __global__ void swiglu_f32(float* dst, const float* gate, const float* up, int n) {
  FOR_EACH(i, n) dst[i] = silu(gate[i]) * up[i];
}

// relu_f32 applies max(x, 0) in place.
extern "C" __global__ void relu_f32(float* x, int n) {
  FOR_EACH(i, n) x[i] = x[i] < 0.f ? 0.f : x[i];
}

// gelu_f32 applies the exact (erf) GELU in place.
extern "C" __global__ void gelu_f32(float* x, int n) {
  FOR_EACH(i, n) {
    float v = x[i];
    x[i] = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
  }
}

// copy_cols_f32: dst[r, c] = src[r, col0 + c] for dst [rows, cols], src
// [rows, scols]. grid.y walks rows.
extern "C" __global__ void copy_cols_f32(float* dst, const float* src, int rows, int cols, int scols, int col0) {
  for (int r = blockIdx.y; r < rows; r += gridDim.y)
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
      dst[(long long)r * cols + c] = src[(long long)r * scols + col0 + c];
}

// embedding_T: dst[r, :] = table[ids[r], :] (table [vocab, cols] in T).
// One block row per token (grid.y), threads over columns.
template <typename T>
__device__ void embedding(float* dst, const T* table, const int* ids, int rows, int cols) {
  for (int r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* src = table + (long long)ids[r] * cols;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
      dst[(long long)r * cols + c] = to_f32(src[c]);
  }
}

// add_rows_T: dst[r, :] += table[first + r, :] (learned positions).
template <typename T>
__device__ void add_rows(float* dst, const T* table, int first, int rows, int cols) {
  for (int r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* src = table + (long long)(first + r) * cols;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
      dst[(long long)r * cols + c] += to_f32(src[c]);
  }
}

// convert_T: dst[i] = T(src[i]) (round to nearest even): the f32
// activations are narrowed to the compute dtype before a tensor-core GEMM.
template <typename T>
__device__ void convert(T* dst, const float* src, int n) {
  FOR_EACH(i, n) dst[i] = from_f32<T>(src[i]);
}

#define DEF_ELEMENTWISE(T, S)                                                                          \
  extern "C" __global__ void embedding_##S(float* dst, const T* table, const int* ids, int rows, int cols) { \
    embedding<T>(dst, table, ids, rows, cols);                                                         \
  }                                                                                                    \
  extern "C" __global__ void add_rows_##S(float* dst, const T* table, int first, int rows, int cols) {  \
    add_rows<T>(dst, table, first, rows, cols);                                                        \
  }                                                                                                    \
  extern "C" __global__ void convert_##S(T* dst, const float* src, int n) { convert<T>(dst, src, n); }
GOLLM_EACH_DTYPE(DEF_ELEMENTWISE)

// copy_f32 is a plain vectorised copy of n float4s, the reference for
// "% of peak" in the benchmarks (besides cuMemcpyDtoD).
extern "C" __global__ void copy_f32(float4* dst, const float4* src, long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] = src[i];
}
