// Package cuda is gollm's NVIDIA GPU backend: backend.Backend implemented
// with the engine's own CUDA kernels (kernels/cuda) on the driver API
// (gorgonia.org/cu), and cuBLAS, loaded at run time, for prefill GEMMs.
//
// Everything but this file is behind build tags, so that CPU builds never
// link the CUDA driver:
//
//	-tags cuda      the GPU backend (needs cuda.h and libcuda to build;
//	                see docs/GPU.md). cuda.New opens a device.
//	-tags cudaemu   the same backend code over a CPU emulator of the
//	                kernels (no CUDA needed at all): each CUDA thread runs
//	                as a fiber, cuBLAS is replaced by a reference GEMM. It
//	                is slow and exists so that the backend and its kernels
//	                are tested on machines without a GPU.
//
// Design: activations stay on the device in float32 (the residual stream
// does not drift); weights, embedding tables and the KV cache are stored
// in the compute dtype (f16, bf16 or f32) and widened to f32 as kernels
// load them; all accumulation is f32. Batch-1 decode is a chain of
// memory-bound kernels — the GEMV that streams each weight once at near
// copy bandwidth decides its speed — while prefill multiplies through
// cuBLAS (tensor cores) and computes attention as two batched GEMMs around
// a causal softmax. Decode attention is split-K "flash-decoding".
package cuda
