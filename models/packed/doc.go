// Package packed holds the packed on-disk formats of quantized and 2:4
// linear layers — GPTQ, AWQ gemm, compressed-tensors (int-quantized W8A8,
// pack-quantized, sparse-24-bitmask) — and Quantized, the one type a
// packed integer weight has from the quantizer to the kernel.
//
// It sits below models (models imports it; it imports only kernels and
// tensor) so that any program that loads a model — the CLI, the server,
// a test importing models alone — reads every packed checkpoint, with no
// registration and no import of compress. The quantizers in package
// compress produce a Quantized; compress/format.Save writes it with the
// encoders here; models' linear loading reads it back with LoadLinear; and
// Quantized.Matrix builds the kernel (kernels.QuantGroupMatrix or
// kernels.QuantW8A8Matrix) that multiplies on its codes. Each format's
// file (gptq.go, awq.go, ctensors.go) holds its tensor layout, its encoder
// and its decoder side by side.
//
// Formats, per linear `prefix` (see each file for the bit layout):
//
//	GPTQ     AutoGPTQ: qweight I32 [in·bits/32, out] (codes as a
//	         little-endian bit stream down each output column, 2/3/4/8
//	         bits), qzeros I32 [groups, out·bits/32] (zero − 1, or the true
//	         zero for checkpoint_format "gptq_v2"), scales F16 [groups, out],
//	         g_idx I32 [in]; quantization_config quant_method gptq.
//	AWQ      AutoAWQ gemm: qweight I32 [in, out/8] packed along out in the
//	         order 0,2,4,6,1,3,5,7, qzeros I32 [in/group, out/8] (true
//	         zeros), scales F16 [in/group, out]; 4-bit only, no act-order.
//	W8A8     compressed-tensors int-quantized: weight I8 [out, in],
//	         weight_scale [out, 1]; int8 symmetric per-token dynamic input
//	         activations (kernels.QuantW8A8Matrix).
//	packed   compressed-tensors pack-quantized (read only, W4A16 from
//	         llm-compressor): weight_packed I32, weight_scale,
//	         weight_shape, optional weight_zero_point and weight_g_idx.
//	2:4      compressed-tensors sparse-24-bitmask: compressed [out, in/2]
//	         (the two kept values of every group of four), bitmask U8
//	         [out, ceil(in/8)], shape I64 [2, 1] (kernels.Sparse24Matrix).
//
// A GPTQ checkpoint whose quantization_config has gollm_act_bits runs its
// layers on per-token fake-quantized activations (kernels.ActQuantMatrix),
// as OmniQuant's W4A4/W6A6 models are evaluated.
package packed
