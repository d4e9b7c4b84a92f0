package corpus

import (
	"math/rand/v2"
	"strings"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/pyrand"
)

// The calibration sampling schemes (Sample's sampling argument; the
// "sampling" key of a method spec).
const (
	// SampleWindow is GPTQ's loader: pick random documents until one has
	// more than seqlen tokens, take a random window of seqlen tokens from
	// it; one document (WikiText joined) gives windows of that document.
	SampleWindow = "window"
	// SampleConcat is AWQ's loader: shuffle the documents, keep those of at
	// most seqlen tokens until nsamples are kept, concatenate them and cut
	// the result into blocks of seqlen tokens.
	SampleConcat = "concat"
	// SampleTruncate is SmoothQuant's loader: shuffle the documents and
	// take the first seqlen tokens of each of the first nsamples.
	SampleTruncate = "truncate"
	// SampleDistinct is LLM-Pruner's get_bookcorpus: like SampleWindow,
	// but a document holds at least seqlen tokens and is drawn at most
	// once.
	SampleDistinct = "distinct"
)

// Encoder turns text into token ids (tokenizer.Tokenizer satisfies it).
// addSpecial adds the model's BOS/prefix tokens, as Hugging Face
// tokenizers do by default.
type Encoder interface {
	Encode(text string, addSpecial bool) []int
}

// Window is one calibration sample: tokens [Start, Start+Len) of document
// Doc (documents numbered across the files in order). Concatenated samples
// (SampleConcat) have Doc -1 and Start the offset in the concatenation.
type Window struct {
	Doc   int `json:"doc"`
	Start int `json:"start"`
	Len   int `json:"len"`
}

// Calibration is the calibration set a run used: the token ids of every
// sample and where they came from.
type Calibration struct {
	Files    []File   `json:"files"`
	Sampling string   `json:"sampling"`
	NSamples int      `json:"nsamples"`
	Seqlen   int      `json:"seqlen"`
	Seed     int64    `json:"seed"`
	Tokens   int      `json:"tokens"`
	Windows  []Window `json:"windows"`
	// DocsUsed counts the documents AWQ's loader concatenated.
	DocsUsed int `json:"docs_used,omitempty"`
	// Samples are the token ids (not written to the record).
	Samples [][]int `json:"-"`
}

// ByteEncoder is a byte-level Encoder for tests and fixture scripts,
// where no tokenizer files exist: BOS 1, then byte b as id b+3 (the ids
// fit a vocabulary of 259).
type ByteEncoder struct{}

// Encode returns the ids of text's bytes, after BOS when addSpecial.
func (ByteEncoder) Encode(text string, addSpecial bool) []int {
	ids := make([]int, 0, len(text)+1)
	if addSpecial {
		ids = append(ids, 1)
	}
	for _, b := range []byte(text) {
		ids = append(ids, int(b)+3)
	}
	return ids
}

// tokenSlack bounds how many more tokens than UTF-8 bytes a tokenizer can
// produce for one text (special tokens; SentencePiece's dummy prefix). A
// document of b bytes has at most b+tokenSlack tokens, so shorter ones can
// be rejected without tokenizing them.
const tokenSlack = 8

// Sample draws the calibration set from docs as sampling says (see
// SampleWindow, SampleConcat, SampleTruncate), tokenizing with tok. It
// returns an error wrapping badinput.ErrBadInput when the text cannot supply the
// requested samples.
func Sample(docs []string, tok Encoder, sampling string, nsamples, seqlen int, seed int64) (*Calibration, error) {
	c := &Calibration{Sampling: sampling, NSamples: nsamples, Seqlen: seqlen, Seed: seed}
	if nsamples < 1 || seqlen < 1 {
		return nil, badinput.Errorf("calibration: %d samples of %d tokens", nsamples, seqlen)
	}
	var err error
	switch sampling {
	case SampleWindow:
		err = c.sampleWindows(docs, tok)
	case SampleConcat:
		err = c.sampleConcat(docs, tok)
	case SampleTruncate:
		err = c.sampleTruncate(docs, tok)
	case SampleDistinct:
		err = c.sampleDistinct(docs, tok)
	default:
		err = badinput.Errorf("calibration sampling %q unknown", sampling)
	}
	if err != nil {
		return nil, err
	}
	for _, s := range c.Samples {
		c.Tokens += len(s)
	}
	return c, nil
}

// sampleWindows is GPTQ's get_c4 / get_wikitext2: Python's random seeded
// with the seed; per sample, documents drawn with randint until one has more
// than seqlen tokens, then a window start drawn with randint.
func (c *Calibration) sampleWindows(docs []string, tok Encoder) error {
	n, seqlen := c.NSamples, c.Seqlen
	// Rule out hopeless requests before tokenizing anything.
	var total int64
	for _, d := range docs {
		if len(d)+tokenSlack > seqlen {
			total += int64(len(d))
		}
	}
	if total == 0 {
		return badinput.Errorf("calibration: no document can hold a window of %d tokens (the longest has %d bytes)", seqlen, longest(docs))
	}
	if total < int64(n)*int64(seqlen) {
		return badinput.Errorf("calibration: too little text for %d samples × %d tokens: the documents long enough hold %d bytes", n, seqlen, total)
	}
	rng := pyrand.New(c.Seed)
	cache := map[int][]int{}
	encode := func(i int) []int {
		if ids, ok := cache[i]; ok {
			return ids
		}
		var ids []int
		if len(docs[i])+tokenSlack > seqlen {
			ids = tok.Encode(docs[i], true)
		}
		cache[i] = ids
		return ids
	}
	if len(docs) == 1 {
		ids := encode(0)
		if len(ids) <= seqlen {
			return badinput.Errorf("calibration: the text has %d tokens, a window needs more than %d", len(ids), seqlen)
		}
		if len(ids) < n*seqlen {
			return badinput.Errorf("calibration: too little text for %d samples × %d tokens: %d tokens", n, seqlen, len(ids))
		}
		for range n {
			i, _ := rng.Randint(0, len(ids)-seqlen-1) // len(ids) > seqlen
			c.add(0, i, ids[i:i+seqlen])
		}
		return nil
	}
	long := map[int]bool{} // documents known to hold a window
	for range n {
		var ids []int
		var d int
		for tries := 0; ; tries++ {
			d, _ = rng.Randint(0, len(docs)-1) // docs is not empty
			ids = encode(d)
			if len(ids) > seqlen {
				long[d] = true
				break
			}
			// The reference loops forever when no document is long
			// enough; give up once every candidate has been tokenized.
			if len(long) == 0 && tries > 0 && tries%len(docs) == 0 && allCandidatesSeen(docs, cache, seqlen) {
				return badinput.Errorf("calibration: no document has more than %d tokens", seqlen)
			}
		}
		i, _ := rng.Randint(0, len(ids)-seqlen-1) // len(ids) > seqlen
		c.add(d, i, ids[i:i+seqlen])
	}
	return nil
}

func allCandidatesSeen(docs []string, cache map[int][]int, seqlen int) bool {
	for i, d := range docs {
		if len(d)+tokenSlack > seqlen {
			if _, ok := cache[i]; !ok {
				return false
			}
		}
	}
	return true
}

func longest(docs []string) int {
	m := 0
	for _, d := range docs {
		m = max(m, len(d))
	}
	return m
}

func (c *Calibration) add(doc, start int, ids []int) {
	c.Samples = append(c.Samples, slicesClone(ids))
	c.Windows = append(c.Windows, Window{Doc: doc, Start: start, Len: len(ids)})
}

func slicesClone(s []int) []int { return append([]int(nil), s...) }

// shuffled returns a permutation of [0, n) from the seed (gollm's own
// generator: the reference shuffles with the datasets library's NumPy
// generator, which is not reproduced).
func shuffled(n int, seed int64) []int {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	return r.Perm(n)
}

// sampleConcat is AWQ's get_calib_dataset: shuffled documents, stripped,
// tokenized; those longer than seqlen tokens or empty are skipped; the
// first nsamples kept are concatenated and cut into seqlen-token blocks.
func (c *Calibration) sampleConcat(docs []string, tok Encoder) error {
	var cat []int
	for _, d := range shuffled(len(docs), c.Seed) {
		text := strings.TrimSpace(docs[d])
		if len(text) == 0 {
			continue
		}
		ids := tok.Encode(text, true)
		if len(ids) == 0 || len(ids) > c.Seqlen {
			continue
		}
		cat = append(cat, ids...)
		c.DocsUsed++
		if c.DocsUsed == c.NSamples {
			break
		}
	}
	blocks := len(cat) / c.Seqlen
	if blocks == 0 {
		return badinput.Errorf("calibration: too little text: %d documents of at most %d tokens hold %d tokens, less than one block of %d", c.DocsUsed, c.Seqlen, len(cat), c.Seqlen)
	}
	for b := range blocks {
		c.add(-1, b*c.Seqlen, cat[b*c.Seqlen:(b+1)*c.Seqlen])
	}
	return nil
}

// sampleTruncate is SmoothQuant's calibration: shuffled documents, the
// first seqlen tokens of each of the first nsamples.
func (c *Calibration) sampleTruncate(docs []string, tok Encoder) error {
	if len(docs) < c.NSamples {
		return badinput.Errorf("calibration: too little text: %d documents for %d samples", len(docs), c.NSamples)
	}
	for _, d := range shuffled(len(docs), c.Seed)[:c.NSamples] {
		ids := tok.Encode(docs[d], true)
		if len(ids) > c.Seqlen {
			ids = ids[:c.Seqlen]
		}
		if len(ids) == 0 {
			continue
		}
		c.add(d, 0, ids)
	}
	if len(c.Samples) == 0 {
		return badinput.Errorf("calibration: every sampled document is empty")
	}
	return nil
}

// sampleDistinct is LLM-Pruner's get_bookcorpus, with Python's random
// seeded by the seed: per sample, documents are drawn with randint(0,
// len(docs)−1) until one that was not drawn before has at least seqlen
// tokens, then a window start with randint(0, tokens−seqlen). Documents
// are tokenized with BOS (the reference's tokenizer call). The request is
// refused when the documents cannot supply the samples (where the
// reference would loop forever).
func (c *Calibration) sampleDistinct(docs []string, tok Encoder) error {
	nsamples, seqlen := c.NSamples, c.Seqlen
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
		return badinput.Errorf("calibration: %d documents have at least %d tokens, %d samples need as many", long, seqlen, nsamples)
	}
	rng := pyrand.New(c.Seed)
	used := make(map[int]bool)
	for range nsamples {
		var ids []int
		var d int
		for {
			d, _ = rng.Randint(0, len(docs)-1) // docs is not empty
			ids = encode(d)
			if len(ids) >= seqlen && !used[d] {
				used[d] = true
				break
			}
		}
		j, _ := rng.Randint(0, len(ids)-seqlen) // len(ids) ≥ seqlen
		c.add(d, j, ids[j:j+seqlen])
	}
	return nil
}
