package eval

// Tokenizer is what eval needs of a tokenizer (*tokenizer.Tokenizer satisfies it).
type Tokenizer interface {
	// Encode returns the token ids of text; with addSpecial=false no BOS/EOS
	// is added, with addSpecial=true the tokenizer's own post-processing
	// (e.g. LLaMA's BOS) is applied, as Hugging Face's tokenizer(text) does.
	Encode(text string, addSpecial bool) []int
	// BOS returns the beginning-of-sequence id and whether the tokenizer has one.
	BOS() (int, bool)
}

// LM is a causal language model that eval scores.
type LM interface {
	// VocabSize is the number of logits per position.
	VocabSize() int
	// MaxContext is the longest sequence the model accepts
	// (max_position_embeddings).
	MaxContext() int
	// NewState returns an empty KV-cache session.
	NewState() State
}

// State is one sequence's KV cache.
type State interface {
	// Append runs ids at positions Len()…Len()+len(ids)-1 and returns their
	// logits, row-major [len(ids)×VocabSize()]; the slice is only valid until
	// the next call.
	Append(ids []int) ([]float32, error)
	// Len is the number of positions held.
	Len() int
	// Truncate forgets positions ≥ n (shared-prefix reuse: run the context
	// once, Truncate back to it for each choice).
	Truncate(n int)
}
