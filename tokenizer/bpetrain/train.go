// Package bpetrain trains a byte-level BPE tokenizer (GPT-2 style) as
// Hugging Face tokenizers' BpeTrainer does behind a ByteLevel pre-tokenizer,
// and writes it as a tokenizer.json folder that package tokenizer and
// Hugging Face load alike.
//
// The algorithm:
//
//  1. Words. Each line of the text (with its '\n'; with a leading space
//     added when CorpusOptions.AddPrefixSpace is set and the line has
//     none) is split by the GPT-2 pre-tokenization regex ('s|'t|...|
//     ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+); equal pieces
//     are counted once with their count.
//  2. Alphabet. The ids start with the special tokens (SpecialTokens), then
//     the 256 symbols of GPT-2's byte-to-unicode alphabet, all of them
//     whether the text uses them or not, in code-point order (HF sorts its
//     alphabet the same way). A word is the sequence of its bytes' symbols.
//  3. Pair counts. Every adjacent symbol pair of every word is counted,
//     weighted by the word's count, and an index lists the words holding
//     each pair.
//  4. Merges. The most frequent pair (a, b) becomes a new token a+b (a new
//     id, or the existing id when that string is already a token); in each
//     word of its index every occurrence is replaced, left to right without
//     overlap, and that word's pair counts are taken out before and put back
//     after, so all counts stay exact. Pairs whose counts changed are pushed
//     onto a max-heap; entries whose count is no longer the pair's are
//     dropped when popped. This repeats until the vocabulary (specials
//     included) has the requested size.
//
// Ties: among pairs of equal count the one with the smaller (id of a, id of
// b) wins, so a pair of older symbols beats one with a newer merged token,
// and bytes compare by code point. Hugging Face's trainer pops its
// BinaryHeap of Merge entries by count, then by ascending pair, over the
// same id order: the rule is HF's, and HF's BpeTrainer learns the very same
// merge list, in order, on the world's training text and on the tricky
// texts of the tests (TestHFTrainer). Where the two can part is the rare
// merge whose token string already exists (a+bc after ab+c): both reuse the
// existing id, but HF's queue entry for a pair re-formed that way covers
// only the words where it was re-formed, and HF records the pair again as a
// second merge; here it is merged in every word and listed once, at its
// first rank. The result depends only on the text and the vocabulary size:
// training twice gives the same bytes.
//
// The cost is one pass over the text for the words, then per merge the
// total length of the distinct words holding the pair (not of the text):
// the world's 4.7 MB train.txt trains in well under a second (docs/WORLD.md).
package bpetrain

import (
	"container/heap"
	"context"
	"fmt"
	"sort"

	"github.com/llmcbench/gollm/tokenizer"
)

// The special tokens, at ids 0 and 1 as in the LLaMA-3 fixture
// (testdata/llama3-tiny): BOS starts every encoded text (the
// post-processor adds it), EOS ends each training document.
const (
	BOS = "<|begin_of_text|>"
	EOS = "<|end_of_text|>"
)

// SpecialTokens are the added tokens of every trained tokenizer, in id order.
var SpecialTokens = []string{BOS, EOS}

// VocabMultiple is the granularity of the vocabulary size (a requirement of
// the reference models' embedding shapes).
const VocabMultiple = 128

// MaxVocab bounds the vocabulary size (ids are int32 internally).
const MaxVocab = 1 << 24

// CheckVocabSize reports whether n is an allowed vocabulary size: a
// multiple of VocabMultiple with room for the special tokens and the 256
// byte symbols (so at least 384), at most MaxVocab.
func CheckVocabSize(n int) error {
	minimum := len(SpecialTokens) + 256
	switch {
	case n < minimum:
		return fmt.Errorf("%w: vocabulary size %d is below %d (%d special tokens + 256 byte symbols)", ErrBadInput, n, minimum, len(SpecialTokens))
	case n%VocabMultiple != 0:
		return fmt.Errorf("%w: vocabulary size %d is not a multiple of %d", ErrBadInput, n, VocabMultiple)
	case n > MaxVocab:
		return fmt.Errorf("%w: vocabulary size %d is above %d", ErrBadInput, n, MaxVocab)
	}
	return nil
}

// Options configure Train.
type Options struct {
	// VocabSize is the total number of ids, special tokens included.
	VocabSize int
	// Progress, if set, is called after each merge with the vocabulary
	// size reached and VocabSize.
	Progress func(done, total int)
}

// Model is a trained tokenizer.
type Model struct {
	// Vocab is the token of each id: SpecialTokens, the 256 byte symbols,
	// then the merged tokens in the order they were learned.
	Vocab []string
	// Merges are the learned pairs in rank order.
	Merges [][2]string
	// AddPrefixSpace is the corpus's CorpusOptions.AddPrefixSpace: the
	// add_prefix_space of the ByteLevel pre-tokenizer TokenizerJSON writes.
	AddPrefixSpace bool
}

// pair packs two symbol ids.
type pair uint64

func mkPair(a, b int32) pair       { return pair(uint64(uint32(a))<<32 | uint64(uint32(b))) }
func (p pair) split() (a, b int32) { return int32(uint32(p >> 32)), int32(uint32(p)) }

type word struct {
	syms  []int32
	count int64
}

// candidate is a heap entry: a pair and its count when pushed.
type candidate struct {
	count int64
	p     pair
}

// maxHeap orders candidates by count, then by ascending pair (the tie rule).
type maxHeap []candidate

func (h maxHeap) Len() int { return len(h) }
func (h maxHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].p < h[j].p
}
func (h maxHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)   { *h = append(*h, x.(candidate)) }
func (h *maxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// trainer is the state of one Train call.
type trainer struct {
	vocab  []string
	ids    map[string]int32
	words  []word
	counts map[pair]int64
	where  map[pair][]int32 // words that held the pair when it was formed
	heap   maxHeap
	delta  map[pair]int64 // count changes of the current merge
	merged map[pair]bool
	seen   []int32 // step at which each word was last merged (dedup)
}

// Train learns a byte-level BPE vocabulary of opt.VocabSize ids from the
// words of c. It fails with ErrBadInput when the size is not allowed or the
// corpus runs out of pairs to merge before the vocabulary is full (the
// message gives the largest size the corpus allows), and with ctx's error
// when ctx is cancelled.
func Train(ctx context.Context, c *Corpus, opt Options) (*Model, error) {
	if err := CheckVocabSize(opt.VocabSize); err != nil {
		return nil, err
	}
	m, err := learn(ctx, c, opt.VocabSize, opt.Progress)
	if err != nil {
		return nil, err
	}
	if n := len(m.Vocab); n < opt.VocabSize {
		largest := "none"
		if l := n / VocabMultiple * VocabMultiple; l >= len(SpecialTokens)+256 {
			largest = fmt.Sprint(l)
		}
		return nil, fmt.Errorf("%w: vocabulary size %d is too large for the corpus (%d bytes, %d distinct words): no pair is left to merge at %d tokens (the largest allowed size for it: %s)",
			ErrBadInput, opt.VocabSize, c.bytes, len(c.words), n, largest)
	}
	return m, nil
}

// learn merges pairs until the vocabulary has size ids or no pair is left.
func learn(ctx context.Context, c *Corpus, size int, progress func(done, total int)) (*Model, error) {
	t := &trainer{ids: map[string]int32{}, counts: map[pair]int64{}, where: map[pair][]int32{},
		delta: map[pair]int64{}, merged: map[pair]bool{}}
	for _, s := range SpecialTokens {
		t.add(s)
	}
	// The byte alphabet in code-point order.
	var byteRunes [256]rune
	for b := range 256 {
		byteRunes[b] = tokenizer.ByteLevelRune(byte(b))
	}
	order := make([]int, 256)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return byteRunes[order[i]] < byteRunes[order[j]] })
	var byteID [256]int32
	for _, b := range order {
		byteID[b] = t.add(string(byteRunes[b]))
	}
	t.initWords(c, &byteID)
	t.seen = make([]int32, len(t.words))
	for i := range t.seen {
		t.seen[i] = -1
	}
	for p, n := range t.counts {
		t.heap = append(t.heap, candidate{n, p})
	}
	heap.Init(&t.heap)

	var merges [][2]string
	for step := int32(0); len(t.vocab) < size; step++ {
		if step%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		p, ok := t.best()
		if !ok {
			break
		}
		a, b := p.split()
		tok := t.vocab[a] + t.vocab[b]
		id, exists := t.ids[tok]
		if !exists {
			id = t.add(tok)
		}
		if !t.merged[p] {
			// A pair can come back only when a later merge re-creates a
			// token string (and so its id); its rank stays the first one.
			t.merged[p] = true
			merges = append(merges, [2]string{t.vocab[a], t.vocab[b]})
		}
		t.merge(p, id, step)
		if progress != nil {
			progress(len(t.vocab), size)
		}
	}
	return &Model{Vocab: t.vocab, Merges: merges, AddPrefixSpace: c.addPrefixSpace}, nil
}

// add appends a token to the vocabulary and returns its id.
func (t *trainer) add(tok string) int32 {
	id := int32(len(t.vocab))
	t.vocab = append(t.vocab, tok)
	t.ids[tok] = id
	return id
}

// initWords turns the corpus's words (sorted, for a fixed word order) into
// symbol sequences and counts their pairs.
func (t *trainer) initWords(c *Corpus, byteID *[256]int32) {
	keys := make([]string, 0, len(c.words))
	for w := range c.words {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	t.words = make([]word, 0, len(keys))
	for _, k := range keys {
		syms := make([]int32, len(k))
		for i := 0; i < len(k); i++ {
			syms[i] = byteID[k[i]]
		}
		w := int32(len(t.words))
		t.words = append(t.words, word{syms: syms, count: c.words[k]})
		for i := 0; i+1 < len(syms); i++ {
			p := mkPair(syms[i], syms[i+1])
			t.counts[p] += c.words[k]
			t.index(p, w)
		}
	}
}

// index records that word w holds pair p (once per word in a row).
func (t *trainer) index(p pair, w int32) {
	l := t.where[p]
	if n := len(l); n > 0 && l[n-1] == w {
		return
	}
	t.where[p] = append(l, w)
}

// best pops the most frequent pair (ties: smallest pair), skipping stale
// heap entries; false when no pair occurs any more.
func (t *trainer) best() (pair, bool) {
	for t.heap.Len() > 0 {
		top := heap.Pop(&t.heap).(candidate)
		if n := t.counts[top.p]; n == top.count && n > 0 {
			return top.p, true
		}
	}
	return 0, false
}

// merge replaces pair p by symbol id in every word holding it, keeping the
// pair counts exact and pushing the pairs whose counts changed.
func (t *trainer) merge(p pair, id int32, step int32) {
	a, b := p.split()
	list := t.where[p]
	delete(t.where, p)
	clear(t.delta)
	for _, w := range list {
		if t.seen[w] == step {
			continue
		}
		t.seen[w] = step
		wd := &t.words[w]
		syms := wd.syms
		if !holds(syms, a, b) {
			continue // an index entry from before an earlier merge
		}
		for i := 0; i+1 < len(syms); i++ {
			q := mkPair(syms[i], syms[i+1])
			t.delta[q] -= wd.count
		}
		out := syms[:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
				out = append(out, id)
				i++
				continue
			}
			out = append(out, syms[i])
		}
		wd.syms = out
		for i := 0; i+1 < len(out); i++ {
			q := mkPair(out[i], out[i+1])
			t.delta[q] += wd.count
			if out[i] == id || out[i+1] == id {
				t.index(q, w)
			}
		}
	}
	// A changed count needs a new heap entry (the old one is now stale);
	// the order of the pushes does not matter, the heap's order is total.
	for q, d := range t.delta {
		if d == 0 {
			continue
		}
		n := t.counts[q] + d
		if n <= 0 {
			delete(t.counts, q)
			continue
		}
		t.counts[q] = n
		heap.Push(&t.heap, candidate{n, q})
	}
}

// holds reports whether syms has a adjacent to b.
func holds(syms []int32, a, b int32) bool {
	for i := 0; i+1 < len(syms); i++ {
		if syms[i] == a && syms[i+1] == b {
			return true
		}
	}
	return false
}
