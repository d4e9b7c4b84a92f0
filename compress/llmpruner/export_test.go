package llmpruner

// LoRADefaults returns the LoRA settings a zero LoRAConfig runs with, for
// the external tests.
func LoRADefaults() LoRAConfig {
	var lc LoRAConfig
	lc.defaults()
	return lc
}

// NewByteTokenizer and RandomSamples give the external tests
// (golden_test.go) this package's test tokenizer and calibration samples.
func NewByteTokenizer(vocab int) Tokenizer { return byteTokenizer{vocab} }

// RandomSamples is randomSamples.
var RandomSamples = randomSamples
