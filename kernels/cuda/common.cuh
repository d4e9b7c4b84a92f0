// common.cuh — types, conversions and reductions shared by gollm's CUDA
// kernels.
//
// Conventions (every kernel follows them):
//   - Activations are row-major float32 matrices [rows, cols], one row per
//     token, contiguous (row stride = cols). The engine keeps activations in
//     f32 on the device so that the residual stream does not drift; only
//     weights, embedding tables and the KV cache are stored in the compute
//     dtype T ∈ {float, f16, bf16}, and values are converted to f32 as they
//     are loaded. All accumulation is in f32.
//   - Every exported kernel is `extern "C"` with a dtype suffix (_f32, _f16,
//     _bf16) where it reads T-typed data, so the Go side finds it by name.
//     The list of exported names is kernels.def.
//   - Block reductions assume blockDim.x is a multiple of 32 and ≤ 1024, and
//     that every thread of the block calls them (they contain __syncthreads).
//
// The same sources compile for the GPU (nvcc, `make kernels`) and for the
// CPU emulator in emu/ (g++ with -DGOLLM_EMU), which runs each CUDA thread
// as a fiber so that the Go backend can be tested on machines without a GPU.
#pragma once

#ifdef GOLLM_EMU
#include "emu/emu.h"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

typedef __half f16;
typedef __nv_bfloat16 bf16;

#define FULL_MASK 0xffffffffu

// ---- conversions ----------------------------------------------------------

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(f16 v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(bf16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ f16 from_f32<f16>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ bf16 from_f32<bf16>(float v) { return __float2bfloat16_rn(v); }

// load8 reads 8 consecutive T values starting at p (16-byte aligned for f16
// and bf16, 32-byte aligned for f32) with 128-bit loads and widens them to
// f32. The weights are streamed once per token, so the loads use the
// "evict-first" cache hint (ld.global.cs): they should not push the
// activations out of L2.
__device__ __forceinline__ void load8(const float* p, float out[8]) {
  float4 a = __ldcs(reinterpret_cast<const float4*>(p));
  float4 b = __ldcs(reinterpret_cast<const float4*>(p) + 1);
  out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
  out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
}
template <typename H>
__device__ __forceinline__ void load8_half(const H* p, float out[8]) {
  uint4 u = __ldcs(reinterpret_cast<const uint4*>(p));
  const H* h = reinterpret_cast<const H*>(&u);
#pragma unroll
  for (int i = 0; i < 8; i++) out[i] = to_f32(h[i]);
}
__device__ __forceinline__ void load8(const f16* p, float out[8]) { load8_half(p, out); }
__device__ __forceinline__ void load8(const bf16* p, float out[8]) { load8_half(p, out); }

// ---- reductions -------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
  return v;
}

// block_sum returns the sum of v over the block to every thread. sh must
// hold 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* sh) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  const int nw = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : 0.f;
  v = warp_sum(v);
  __syncthreads();  // sh may be reused by the caller
  return v;
}

// block_max is block_sum for the maximum.
__device__ __forceinline__ float block_max(float v, float* sh) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  const int nw = (blockDim.x + 31) >> 5;
  v = warp_max(v);
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : -INFINITY;
  v = warp_max(v);
  __syncthreads();
  return v;
}

// Instantiate a T-templated kernel body under the three exported names.
#define GOLLM_EACH_DTYPE(M) M(float, f32) M(f16, f16) M(bf16, bf16)
