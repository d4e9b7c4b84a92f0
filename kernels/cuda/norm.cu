// norm.cu — RMSNorm and LayerNorm over the rows of f32 activations.
//
// One block per row (grid.x = rows), threads strided over the columns.
// Memory: reads the row twice (the second read hits L1/L2: a 4096-wide row
// is 16 KB) and writes it once; for batch-1 decode the cost is the launch.
// add_rmsnorm fuses the residual add that precedes every LLaMA norm
// (x += h; dst = rmsnorm(x)), saving one launch and one pass over x.
#include "common.cuh"

// rmsnorm_f32: dst[r] = x[r] / sqrt(mean(x[r]²) + eps) · gamma (dst may alias x).
extern "C" __global__ void rmsnorm_f32(float* dst, const float* x, const float* gamma, float eps, int cols) {
  __shared__ float sh[32];
  const float* xr = x + (long long)blockIdx.x * cols;
  float* dr = dst + (long long)blockIdx.x * cols;
  float ss = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float v = xr[i];
    ss += v * v;
  }
  ss = block_sum(ss, sh);
  const float inv = 1.f / sqrtf(ss / (float)cols + eps);
  for (int i = threadIdx.x; i < cols; i += blockDim.x) dr[i] = xr[i] * inv * gamma[i];
}

// add_rmsnorm_f32: x[r] += h[r]; dst[r] = rmsnorm(x[r]) · gamma. dst must not
// alias x or h.
extern "C" __global__ void add_rmsnorm_f32(float* dst, float* x, const float* h, const float* gamma, float eps, int cols) {
  __shared__ float sh[32];
  const long long off = (long long)blockIdx.x * cols;
  float ss = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float v = x[off + i] + h[off + i];
    x[off + i] = v;
    ss += v * v;
  }
  ss = block_sum(ss, sh);
  const float inv = 1.f / sqrtf(ss / (float)cols + eps);
  for (int i = threadIdx.x; i < cols; i += blockDim.x) dst[off + i] = x[off + i] * inv * gamma[i];
}

// layernorm_f32: dst[r] = (x[r] − mean) / sqrt(var + eps) · gamma + beta,
// biased variance as torch.nn.LayerNorm; beta may be null. Two passes
// (mean, then centred squares) as the CPU reference does, for accuracy.
extern "C" __global__ void layernorm_f32(float* dst, const float* x, const float* gamma, const float* beta, float eps, int cols) {
  __shared__ float sh[32];
  const float* xr = x + (long long)blockIdx.x * cols;
  float* dr = dst + (long long)blockIdx.x * cols;
  float s = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) s += xr[i];
  const float mean = block_sum(s, sh) / (float)cols;
  float ss = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float d = xr[i] - mean;
    ss += d * d;
  }
  const float inv = 1.f / sqrtf(block_sum(ss, sh) / (float)cols + eps);
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float y = (xr[i] - mean) * inv * gamma[i];
    if (beta) y += beta[i];
    dr[i] = y;
  }
}
