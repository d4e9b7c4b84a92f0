package tokenizer

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// wordPieceModel is BERT's greedy longest-match-first WordPiece.
type wordPieceModel struct {
	tokToID  map[string]int
	unkID    int // -1 if the unk token is missing from the vocabulary
	prefix   string
	maxChars int
}

func (m *wordPieceModel) vocab() map[string]int { return m.tokToID }

func (m *wordPieceModel) tokenize(st *encState, word string, byteLevel bool, dst []int) []int {
	if byteLevel {
		word = byteLevelEncode(word)
	}
	if word == "" {
		return dst
	}
	unk := func() []int {
		if m.unkID >= 0 {
			return append(dst, m.unkID)
		}
		return dst // the reference errors (MissingUnkToken); we drop the word
	}
	if utf8.RuneCountInString(word) > m.maxChars {
		return unk()
	}
	start0 := len(dst)
	for start := 0; start < len(word); {
		end := len(word)
		found := -1
		for start < end {
			sub := word[start:end]
			if start > 0 {
				sub = m.prefix + sub
			}
			if id, ok := m.tokToID[sub]; ok {
				found = id
				break
			}
			_, n := utf8.DecodeLastRuneInString(word[start:end])
			end -= n
		}
		if found < 0 {
			dst = dst[:start0]
			return unk()
		}
		dst = append(dst, found)
		start = end
	}
	return dst
}

// wordLevelModel maps whole words to ids.
type wordLevelModel struct {
	tokToID map[string]int
	unkID   int
}

func (m *wordLevelModel) vocab() map[string]int { return m.tokToID }

func (m *wordLevelModel) tokenize(st *encState, word string, byteLevel bool, dst []int) []int {
	if byteLevel {
		word = byteLevelEncode(word)
	}
	if word == "" {
		return dst
	}
	if id, ok := m.tokToID[word]; ok {
		return append(dst, id)
	}
	if m.unkID >= 0 {
		return append(dst, m.unkID)
	}
	return dst
}

// byteTrie is a trie over the bytes of the vocabulary pieces, used for the
// common-prefix searches of the Unigram models.
type byteTrie struct {
	edges map[uint64]int32 // node<<8 | byte -> child
	value []int32          // piece id ending at node, -1 if none
}

func newByteTrie() *byteTrie {
	return &byteTrie{edges: map[uint64]int32{}, value: []int32{-1}}
}

func (t *byteTrie) insert(s string, id int) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		k := uint64(node)<<8 | uint64(s[i])
		child, ok := t.edges[k]
		if !ok {
			child = int32(len(t.value))
			t.value = append(t.value, -1)
			t.edges[k] = child
		}
		node = child
	}
	t.value[node] = int32(id)
}

// prefixes calls f(id, length) for every piece that is a prefix of s, in
// increasing length.
func (t *byteTrie) prefixes(s string, f func(id int32, n int)) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		child, ok := t.edges[uint64(node)<<8|uint64(s[i])]
		if !ok {
			return
		}
		node = child
		if v := t.value[node]; v >= 0 {
			f(v, i+1)
		}
	}
}

// unigramModel is Hugging Face's Unigram model (Viterbi over piece scores in
// float64, unknown runs fused, optional byte fallback).
type unigramModel struct {
	tokToID      map[string]int
	pieces       []string
	scores       []float64
	unkID        int // -1 if none
	byteFallback bool
	minScore     float64
	trie         *byteTrie
}

const unkPenalty = 10.0

func newUnigram(pieces []string, scores []float64, unkID int, byteFallback bool) (*unigramModel, error) {
	if unkID >= len(pieces) {
		return nil, fmt.Errorf("unigram: unk_id %d is outside the vocabulary of %d pieces", unkID, len(pieces))
	}
	m := &unigramModel{
		tokToID: make(map[string]int, len(pieces)), pieces: pieces, scores: scores,
		unkID: unkID, byteFallback: byteFallback, minScore: math.Inf(1), trie: newByteTrie(),
	}
	for id, p := range pieces {
		m.tokToID[p] = id
		m.trie.insert(p, id)
		if scores[id] < m.minScore {
			m.minScore = scores[id]
		}
	}
	return m, nil
}

func (m *unigramModel) vocab() map[string]int { return m.tokToID }

type viterbiNode struct {
	id       int32
	startsAt int32 // -1: unset
	score    float64
}

func (m *unigramModel) tokenize(st *encState, word string, byteLevel bool, dst []int) []int {
	if byteLevel {
		word = byteLevelEncode(word)
	}
	if word == "" {
		return dst
	}
	size := len(word)
	best := make([]viterbiNode, size+1)
	for i := range best {
		best[i].startsAt = -1
	}
	unkScore := m.minScore - unkPenalty
	for start := 0; start < size; {
		here := best[start].score
		_, mblen := utf8.DecodeRuneInString(word[start:])
		single := false
		m.trie.prefixes(word[start:], func(id int32, n int) {
			t := &best[start+n]
			cand := m.scores[id] + here
			if t.startsAt < 0 || cand > t.score {
				t.score, t.startsAt, t.id = cand, int32(start), id
			}
			if n == mblen {
				single = true
			}
		})
		if !single {
			t := &best[start+mblen]
			cand := unkScore + here
			if t.startsAt < 0 || cand > t.score {
				if m.unkID < 0 {
					// The reference fails (MissingUnkId); we drop the word.
					return dst
				}
				t.score, t.startsAt, t.id = cand, int32(start), int32(m.unkID)
			}
		}
		start += mblen
	}
	// Backtrack, fusing runs of unknown pieces.
	var rev []string
	unkRun := ""
	for end := size; end > 0; {
		n := best[end]
		s := word[n.startsAt:end]
		if int(n.id) == m.unkID {
			unkRun = s + unkRun
		} else {
			if unkRun != "" {
				rev = append(rev, unkRun)
				unkRun = ""
			}
			rev = append(rev, s)
		}
		end = int(n.startsAt)
	}
	if unkRun != "" {
		rev = append(rev, unkRun)
	}
	for i := len(rev) - 1; i >= 0; i-- {
		s := rev[i]
		if id, ok := m.tokToID[s]; ok {
			dst = append(dst, id)
			continue
		}
		if m.byteFallback {
			ok := true
			start := len(dst)
			for k := 0; k < len(s); k++ {
				id, in := m.tokToID[fmt.Sprintf("<0x%02X>", s[k])]
				if !in {
					ok = false
					break
				}
				dst = append(dst, id)
			}
			if ok {
				continue
			}
			dst = dst[:start]
		}
		if m.unkID >= 0 {
			dst = append(dst, m.unkID)
		}
	}
	return dst
}
