// Package format stores compressed models in the packed on-disk formats
// other engines load, loads them back, and turns a method's integer codes
// into kernels that run on the packed weights.
//
// A method (package compress) describes each quantized linear layer as a
// QuantizedLinear (codes, scales, zero points, optional act-order g_idx);
// QuantizedLinear.Matrix gives a kernels.Matrix that multiplies on the
// packed codes (kernels.QuantGroupMatrix, or kernels.QuantW8A8Matrix for
// SmoothQuant's W8A8), and PackSparse24 packs a 2:4-pruned weight as
// values + 2-bit indices (kernels.Sparse24Matrix). Save writes a model as a
// Hugging Face folder in one of five formats:
//
//	"dense"  float weights (pruned or not); config.json records the
//	         sparsity (global, per layer, "2:4" or "unstructured") under
//	         "gollm_compression".
//	"gptq"   AutoGPTQ: qweight I32 [in·bits/32, out] (codes as a
//	         little-endian bit stream down each output column, 2/3/4/8
//	         bits), qzeros I32 [groups, out·bits/32] (zero − 1), scales F16
//	         [groups, out], g_idx I32 [in]; quantization_config quant_method
//	         gptq with bits, group_size, desc_act, sym, damp_percent,
//	         true_sequential, static_groups, checkpoint_format "gptq" (or
//	         "gptq_v2", true zeros, when some zero point is 0, which zero − 1
//	         cannot store); also quantize_config.json.
//	"awq"    AutoAWQ gemm: qweight I32 [in, out/8] packed along out in the
//	         order 0,2,4,6,1,3,5,7, qzeros I32 [in/group, out/8] (same order,
//	         true zeros), scales F16 [in/group, out]; quant_method awq,
//	         version gemm, zero_point true. 4-bit only, no act-order.
//	"w8a8"   compressed-tensors int-quantized: weight I8 [out, in],
//	         weight_scale F32 [out, 1]; config group: int8 symmetric
//	         per-channel weights, int8 symmetric per-token dynamic input
//	         activations, ignore = the layers outside the blocks.
//	"2:4"    compressed-tensors sparse-24-bitmask: compressed [out, in/2]
//	         (the two kept values of every group of four, in the model's
//	         dtype), bitmask U8 [out, ceil(in/8)] (numpy packbits, little
//	         bit order), shape I64 [2, 1]; sparsity_config format
//	         sparse-24-bitmask, sparsity_structure 2:4.
//
// Everything else in the checkpoint (embeddings, norms, biases of float
// layers) is copied, byte for byte when unchanged, and the folder's other
// files (tokenizer, generation config) come along.
//
// Loading: the package registers a models.LinearLoader from init, so
// models.Load of any of these folders (and of GPTQ/AWQ/compressed-tensors
// checkpoints written by the reference tools, including compressed-tensors
// pack-quantized W4A16) yields layers whose weight is the packed matrix;
// importing the package (the CLI does) is enough.
package format
