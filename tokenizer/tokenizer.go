// Package tokenizer turns text into token ids and back, exactly as the
// reference libraries do: Hugging Face `tokenizers` for tokenizer.json files
// and Google's `sentencepiece` for tokenizer.model files.
//
// A Tokenizer is loaded once (Load, LoadJSON, LoadSentencePiece) and is then
// safe for concurrent use: each Encode borrows its own scratch buffers and
// word caches, so many goroutines can encode at once (EncodeBatch does that
// over all cores).
//
// The tokenizer.json pipeline follows the reference order: added (special)
// tokens are split out of the raw text first, the rest is normalized, split
// by the pre-tokenizer into words, each word is tokenized by the model (BPE,
// WordPiece, Unigram or WordLevel), and the post-processor adds the special
// tokens of the template when asked to. Decoding maps ids to tokens and runs
// the decoder chain.
package tokenizer

import (
	"runtime"
	"sort"
	"sync"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and decodes ids to text. The zero value
// is not usable; build one with Load, LoadJSON or LoadSentencePiece.
type Tokenizer struct {
	eng engine

	// tokToID and idToTok cover the model vocabulary and the added tokens.
	tokToID map[string]int
	idToTok []string
	// special marks the ids of special tokens: skipped by Decode(ids, true).
	special map[int]bool

	bos, eos, pad int   // -1 when unknown
	stops         []int // EOS plus other configured end-of-generation ids

	// For SentencePiece models (no post-processor): whether Encode(text,
	// true) prepends BOS / appends EOS, and any fixed prefix (ChatGLM).
	addBOS, addEOS bool
	prefix         []int

	kind string // "tokenizer.json", "sentencepiece" or "chatglm"
	path string // the file this tokenizer was loaded from

	// free holds idle encoder states. Unlike a sync.Pool it survives garbage
	// collections, so the word caches stay warm in a long run.
	freeMu sync.Mutex
	free   []*encState
}

// engine is one tokenization pipeline: the tokenizer.json pipeline or a
// SentencePiece model.
type engine interface {
	// encode appends the ids of text to dst, without special tokens that a
	// post-processor or BOS/EOS rule would add.
	encode(st *encState, text string, dst []int) []int
	// postProcess adds the special tokens of a single sequence (template
	// processing). Engines without a post-processor return ids unchanged.
	postProcess(ids []int) []int
	// decode turns ids back into text.
	decode(t *Tokenizer, ids []int, skipSpecial bool) string
}

// encState is per-goroutine scratch memory: word caches and buffers.
type encState struct {
	bpeCache map[string][]int
	spmCache map[string][]int
	pieces   []piece
	pieces2  []piece
	syms     []bpeSym
	heap     []bpeMerge
	spmSyms  []spmSym
	spmHeap  []spmPair
}

const maxCacheEntries = 1 << 16 // per goroutine; a full cache is cleared

const maxFreeStates = 64

func (t *Tokenizer) getState() *encState {
	t.freeMu.Lock()
	defer t.freeMu.Unlock()
	if n := len(t.free); n > 0 {
		s := t.free[n-1]
		t.free = t.free[:n-1]
		return s
	}
	return &encState{bpeCache: map[string][]int{}, spmCache: map[string][]int{}}
}

func (t *Tokenizer) putState(s *encState) {
	t.freeMu.Lock()
	defer t.freeMu.Unlock()
	if len(t.free) < maxFreeStates {
		t.free = append(t.free, s)
	}
}

// Encode returns the token ids of text. With addSpecial it also adds the
// special tokens the reference adds: the post-processor's template for a
// tokenizer.json (e.g. BOS for LLaMA-3, `</s>` for OPT), BOS (and EOS if
// configured) for a SentencePiece model, `[gMASK] sop` for ChatGLM.
// Encode never fails: characters a model cannot represent become the unknown
// token, or are dropped when the model has none (as the reference does);
// invalid UTF-8 is read as U+FFFD.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	st := t.getState()
	ids := t.encodeWith(st, text, addSpecial)
	t.putState(st)
	return ids
}

func (t *Tokenizer) encodeWith(st *encState, text string, addSpecial bool) []int {
	if !utf8.ValidString(text) {
		// The references only ever see valid Unicode; read invalid bytes
		// as U+FFFD like Python's errors="replace".
		text = lossyUTF8([]byte(text))
	}
	var ids []int
	if addSpecial {
		ids = append(ids, t.prefix...)
		if t.addBOS && t.bos >= 0 {
			ids = append(ids, t.bos)
		}
	}
	ids = t.eng.encode(st, text, ids)
	if addSpecial {
		if t.addEOS && t.eos >= 0 {
			ids = append(ids, t.eos)
		}
		ids = t.eng.postProcess(ids)
	}
	if ids == nil {
		ids = []int{}
	}
	return ids
}

// EncodeBatch encodes every text with Encode, spreading the texts over all
// cores (runtime.GOMAXPROCS goroutines). out[i] is Encode(texts[i], addSpecial).
func (t *Tokenizer) EncodeBatch(texts []string, addSpecial bool) [][]int {
	out := make([][]int, len(texts))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(texts) {
		workers = len(texts)
	}
	if workers <= 1 {
		for i, s := range texts {
			out[i] = t.Encode(s, addSpecial)
		}
		return out
	}
	var next int64
	var mu sync.Mutex
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		i := int(next)
		next++
		return i
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := t.getState()
			defer t.putState(st)
			for {
				i := take()
				if i >= len(texts) {
					return
				}
				out[i] = t.encodeWith(st, texts[i], addSpecial)
			}
		}()
	}
	wg.Wait()
	return out
}

// Decode turns ids back into text with the tokenizer's decoder. With
// skipSpecial, special tokens (BOS, EOS, `<|...|>` added specials, control
// symbols) are left out. Ids outside the vocabulary are skipped.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	return t.eng.decode(t, ids, skipSpecial)
}

// IDToToken returns the token string of id (the raw vocabulary entry, e.g.
// "Ġworld" or "▁world"), or "" when id is out of range.
func (t *Tokenizer) IDToToken(id int) string {
	if id < 0 || id >= len(t.idToTok) {
		return ""
	}
	return t.idToTok[id]
}

// TokenToID returns the id of a vocabulary or added token.
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	id, ok := t.tokToID[tok]
	return id, ok
}

// VocabSize returns the size of the id space: one more than the largest id
// of the model vocabulary and the added tokens.
func (t *Tokenizer) VocabSize() int { return len(t.idToTok) }

// BOS returns the beginning-of-sequence id, if the tokenizer has one.
func (t *Tokenizer) BOS() (int, bool) { return t.bos, t.bos >= 0 }

// EOS returns the end-of-sequence id, if the tokenizer has one.
func (t *Tokenizer) EOS() (int, bool) { return t.eos, t.eos >= 0 }

// PAD returns the padding id, if the tokenizer has one.
func (t *Tokenizer) PAD() (int, bool) { return t.pad, t.pad >= 0 }

// AddsBOS reports whether Encode(text, true) starts with the BOS id.
func (t *Tokenizer) AddsBOS() bool {
	if t.bos < 0 {
		return false
	}
	ids := t.Encode("", true)
	return len(ids) > 0 && ids[0] == t.bos
}

// IsSpecial reports whether id is a special token (one Decode skips when
// asked to).
func (t *Tokenizer) IsSpecial(id int) bool { return t.special[id] }

// SpecialTokens returns the ids of all special tokens in increasing order.
func (t *Tokenizer) SpecialTokens() []int {
	out := make([]int, 0, len(t.special))
	for id := range t.special {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

// Kind names the format the tokenizer was loaded from: "tokenizer.json",
// "sentencepiece" or "chatglm" (a SentencePiece model with ChatGLM's own
// special tokens).
func (t *Tokenizer) Kind() string { return t.kind }

// Path returns the file the tokenizer was loaded from.
func (t *Tokenizer) Path() string { return t.path }

// setVocab fills tokToID/idToTok from a token->id map.
func (t *Tokenizer) setVocab(m map[string]int) {
	t.tokToID = m
	maxID := -1
	for _, id := range m {
		if id > maxID {
			maxID = id
		}
	}
	t.idToTok = make([]string, maxID+1)
	for tok, id := range m {
		if id >= 0 {
			t.idToTok[id] = tok
		}
	}
}
