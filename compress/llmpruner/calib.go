package llmpruner

import (
	"slices"

	"github.com/llmcbench/gollm/internal/pyrand"
)

// SampleCalibration draws nsamples windows of seqlen tokens from docs as
// LLM-Pruner's get_bookcorpus does, with Python's random seeded by seed: per
// sample, documents are drawn with randint(0, len(docs)−1) until one that
// was not drawn before has at least seqlen tokens, then a window start with
// randint(0, tokens−seqlen). Documents are tokenized with BOS (the
// reference's tokenizer call). It returns an error wrapping badinput.ErrBadInput when the documents
// cannot supply the samples (where the reference would loop forever).
func SampleCalibration(docs []string, tok Tokenizer, nsamples, seqlen int, seed int64) ([][]int, error) {
	if nsamples < 1 || seqlen < 1 {
		return nil, badInput("calibration: %d samples of %d tokens", nsamples, seqlen)
	}
	cache := make(map[int][]int)
	encode := func(i int) []int {
		if ids, ok := cache[i]; ok {
			return ids
		}
		ids := tok.Encode(docs[i], true)
		cache[i] = ids
		return ids
	}
	// Count the documents long enough, so an impossible request fails
	// instead of looping (this tokenizes every document once).
	long := 0
	for i := range docs {
		if len(encode(i)) >= seqlen {
			long++
		}
	}
	if long < nsamples {
		return nil, badInput("calibration: %d documents have at least %d tokens, %d samples need as many", long, seqlen, nsamples)
	}
	rng := pyrand.New(seed)
	used := make(map[int]bool)
	out := make([][]int, 0, nsamples)
	for range nsamples {
		var ids []int
		for {
			d, _ := rng.Randint(0, len(docs)-1) // docs is not empty
			ids = encode(d)
			if len(ids) >= seqlen && !used[d] {
				used[d] = true
				break
			}
		}
		j, _ := rng.Randint(0, len(ids)-seqlen) // len(ids) ≥ seqlen
		out = append(out, slices.Clone(ids[j:j+seqlen]))
	}
	return out, nil
}
