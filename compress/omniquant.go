package compress

// omniQuant is OmniQuant: learnable weight clipping and equivalent
// transforms trained block by block with gradients. It runs in package
// compress/omniquant (omniquant.Quantize), which imports compress, not
// through the block engine; this file owns its spec parameters.
type omniQuant struct{}

func (omniQuant) Info() MethodInfo {
	return MethodInfo{Name: OmniQuant, Doc: "learnable weight clipping and equivalent transforms trained block by block (OmniQuant)", Params: []Param{
		bitsParam(4, bits2to8),
		{Key: "abits", Type: "int", Default: "16", Flag: "abits", Doc: "activation bit width: 4 to 8, or 16 (or 0) for weight-only",
			aliases: map[string]string{"0": "16"},
			check: func(v float64) string {
				return unless(v >= 4 && v <= 8 || v == 16, "want 4 to 8, or 16 for weight-only")
			}},
		{Key: "group", Type: "int", Default: "-1", Flag: "group-size", Doc: "input columns per quantization group, or -1 for one group per output row",
			check: func(v float64) string { return unless(v == -1 || v >= 1, "want -1 or ≥ 1") }},
		{Key: "epochs", Type: "int", Default: "20", Flag: "epochs", Doc: "training epochs per block", check: atLeast(1)},
		nsamplesParam(128), seqlenParam("2048"), seedParam(2)}}
}
