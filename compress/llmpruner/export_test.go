package llmpruner

// NewByteTokenizer and RandomSamples give the external tests
// (golden_test.go) this package's test tokenizer and calibration samples.
func NewByteTokenizer(vocab int) Tokenizer { return byteTokenizer{vocab} }

// RandomSamples is randomSamples.
var RandomSamples = randomSamples
