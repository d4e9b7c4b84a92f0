// Package format saves compressed models as Hugging Face folders in the
// packed on-disk formats other engines load.
//
// The formats themselves — tensor layouts, encoders, decoders, the
// quantization_config each writes, and packed.Quantized, the type of a
// quantized linear from quantizer to kernel — live in package
// models/packed, below models, so that models.Load reads every one of them
// without importing this package. Save writes a model in one of five
// formats:
//
//	"dense"  float weights (pruned or not); config.json records the
//	         sparsity (global, per layer, "2:4" or "unstructured") under
//	         "gollm_compression".
//	"gptq"   AutoGPTQ (packed.GPTQTensors): quantization_config
//	         quant_method gptq with bits, group_size, desc_act, sym,
//	         damp_percent, true_sequential, static_groups,
//	         checkpoint_format "gptq" (or "gptq_v2", true zeros, when some
//	         zero point is 0, which zero − 1 cannot store); also
//	         quantize_config.json.
//	"awq"    AutoAWQ gemm (packed.AWQTensors): quant_method awq, version
//	         gemm, zero_point true. 4-bit only, no act-order.
//	"w8a8"   compressed-tensors int-quantized (packed.W8A8Tensors): int8
//	         symmetric per-channel weights, int8 symmetric per-token dynamic
//	         input activations, ignore = the layers outside the blocks.
//	"2:4"    compressed-tensors sparse-24-bitmask (packed.Sparse24Tensors):
//	         sparsity_config format sparse-24-bitmask, sparsity_structure
//	         2:4.
//
// Everything else in the checkpoint (embeddings, norms, biases of float
// layers) is copied, byte for byte when unchanged, and the folder's other
// files (tokenizer, generation config) come along.
package format
