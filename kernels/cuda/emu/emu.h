// emu.h — the CUDA device-side vocabulary for the CPU emulator.
//
// Compiling the kernel sources with g++ -DGOLLM_EMU makes each
// `__global__` function an ordinary C++ function; runtime.cc runs every
// CUDA thread of a block as a fiber (a small stack and a hand-written
// context switch), switching at __syncthreads and warp shuffles, and runs
// the blocks of a grid one after another. Shared memory is a function-local
// `static` (one copy, and blocks never overlap), thread and block indices
// are read from the running fiber. This is a correctness tool: it executes
// the same index arithmetic, conversions and f32 arithmetic as the GPU
// (without FMA contraction and the fast-math intrinsics), reports
// divergent barriers and shuffles as errors, and runs each pass over the
// fibers in a pseudo-random order so that a missing __syncthreads tends to
// show up as a wrong result.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct dim3 {
  unsigned x, y, z;
};
struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
struct uint4 {
  unsigned x, y, z, w;
};

struct EmuFiber {
  dim3 tid;
  int lane, warp;
  int state;
  unsigned shuffles;
  void* sp;
};
struct EmuBlock {
  dim3 bid, bdim, gdim;
};
extern thread_local EmuFiber* emu_fiber;
extern thread_local EmuBlock* emu_block;

#define threadIdx (emu_fiber->tid)
#define blockIdx (emu_block->bid)
#define blockDim (emu_block->bdim)
#define gridDim (emu_block->gdim)

void __syncthreads();
uint32_t emu_shuffle_xor(uint32_t v, int lane_mask, int width);

template <typename V>
inline V __shfl_xor_sync(unsigned mask, V v, int lane_mask, int width = 32) {
  (void)mask;
  static_assert(sizeof(V) == 4, "emulated shuffles move 32-bit values");
  uint32_t raw;
  memcpy(&raw, &v, 4);
  raw = emu_shuffle_xor(raw, lane_mask, width);
  memcpy(&v, &raw, 4);
  return v;
}

template <typename V>
inline V __ldg(const V* p) { return *p; }
template <typename V>
inline V __ldcs(const V* p) { return *p; }

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }

// ---- 16-bit floats, round to nearest even as the GPU's cvt.rn ----------------

struct __half {
  uint16_t x;
};
struct __nv_bfloat16 {
  uint16_t x;
};

inline uint32_t emu_f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
inline float emu_bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

inline float __half2float(__half h) {
  const uint32_t s = (uint32_t)(h.x & 0x8000) << 16;
  const uint32_t e = (h.x >> 10) & 0x1f, m = h.x & 0x3ff;
  if (e == 0) {
    const float v = (float)m * 5.9604644775390625e-8f;  // m · 2⁻²⁴
    return s ? -v : v;
  }
  if (e == 31) return emu_bits_f32(s | 0x7f800000u | (m << 13));
  return emu_bits_f32(s | ((e + 112) << 23) | (m << 13));
}

inline __half __float2half_rn(float f) {
  uint32_t x = emu_f32_bits(f);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  x &= 0x7fffffff;
  __half h;
  if (x >= 0x7f800000u) {  // inf or NaN
    h.x = sign | 0x7c00 | (x > 0x7f800000u ? 0x200 : 0);
  } else if (x >= 0x477ff000u) {  // ≥ 65520 rounds to inf
    h.x = sign | 0x7c00;
  } else if (x < 0x38800000u) {  // below 2⁻¹⁴: subnormal (exact scaling, then RNE)
    h.x = sign | (uint16_t)nearbyintf(emu_bits_f32(x) * 16777216.f);
  } else {
    const uint32_t mant = x & 0x7fffff;
    uint32_t v = (((x >> 23) - 112) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (v & 1))) v++;
    h.x = sign | (uint16_t)v;
  }
  return h;
}

inline float __bfloat162float(__nv_bfloat16 b) { return emu_bits_f32((uint32_t)b.x << 16); }

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u = emu_f32_bits(f);
  __nv_bfloat16 b;
  if ((u & 0x7fffffff) > 0x7f800000u) {
    b.x = (uint16_t)((u >> 16) | 0x40);
  } else {
    u += 0x7fff + ((u >> 16) & 1);
    b.x = (uint16_t)(u >> 16);
  }
  return b;
}
