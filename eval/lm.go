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

// DefaultBatchSize is Config.BatchSize's default.
const DefaultBatchSize = 8

// BatchLM is an LM that can run several states in one forward pass. eval
// uses it to score the choices of a multiple-choice question together: the
// shared context runs once on one state, is copied into one state per
// choice, and the choices' continuations run as one ragged batch (every
// member's rows attend only to its own cache, so no padding or attention
// mask is needed and the log-likelihoods equal the unbatched ones).
type BatchLM interface {
	LM
	// AppendBatch runs ids[i] on states[i] (each at its own Len()) in one
	// forward pass and returns each member's logits, row-major
	// [len(ids[i])×VocabSize()], valid until that state's next call.
	AppendBatch(states []State, ids [][]int) ([][]float32, error)
	// CopyPrefix makes dst hold the first n positions of src. An error
	// means the LM cannot copy states; eval then scores one request at a
	// time.
	CopyPrefix(dst, src State, n int) error
}
