package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// model tokenizes one pre-tokenized word.
type model interface {
	// tokenize appends the ids of word to dst. With byteLevel, word holds raw
	// bytes that the ByteLevel pre-tokenizer would have mapped to its
	// alphabet; the model applies that mapping itself.
	tokenize(st *encState, word string, byteLevel bool, dst []int) []int
	// vocab returns the model's token -> id map.
	vocab() map[string]int
}

// bpeModel is Hugging Face's BPE model: merges applied by rank (lowest first,
// leftmost among equals), with byte_fallback, fuse_unk, ignore_merges,
// continuing_subword_prefix and end_of_word_suffix. dropout is ignored (it
// only applies in training).
type bpeModel struct {
	tokToID      map[string]int
	merges       map[uint64]bpeMergeVal
	unkID        int // -1 if none
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix

	byteFallbackIDs [256]int32 // id of "<0xXX>", -1 if absent
	// byteLevelIDs[b] is the id of the byte-level rune of byte b (-1 if the
	// vocabulary lacks it); rawVocab maps a raw byte string to the id of its
	// byte-level spelling (for ignore_merges).
	byteLevelIDs [256]int32
	rawVocab     map[string]int
	// spaceChunks: a long word can be cut before every ▁ that follows a
	// non-▁ rune and its parts encoded apart (and cached), because no merge
	// produces a token spanning such a point and ▁ itself is known. This is
	// what makes LLaMA-style tokenizer.json files (no pre-tokenizer: the
	// whole text is one word) fast.
	spaceChunks bool
}

type bpeMergeVal struct{ rank, newID int32 }

type bpeSym struct {
	id         int32
	prev, next int32
	alive      bool
}

type bpeMerge struct{ rank, pos, newID int32 }

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newBPE builds the model. merges are (left, right) token pairs in rank order.
func newBPE(vocab map[string]int, merges [][2]string, unk string, fuseUnk, byteFallback, ignoreMerges bool, prefix, suffix string) (*bpeModel, error) {
	m := &bpeModel{
		tokToID: vocab, merges: make(map[uint64]bpeMergeVal, len(merges)), unkID: -1,
		fuseUnk: fuseUnk, byteFallback: byteFallback, ignoreMerges: ignoreMerges,
		prefix: prefix, suffix: suffix,
	}
	if unk != "" {
		id, ok := vocab[unk]
		if !ok {
			return nil, fmt.Errorf("bpe: unk_token %q is not in the vocabulary", unk)
		}
		m.unkID = id
	}
	for i, mg := range merges {
		a, b := mg[0], mg[1]
		aID, ok := vocab[a]
		if !ok {
			return nil, fmt.Errorf("bpe: merge %d (%q %q) refers to token %q missing from the vocabulary", i, a, b, a)
		}
		bID, ok := vocab[b]
		if !ok {
			return nil, fmt.Errorf("bpe: merge %d (%q %q) refers to token %q missing from the vocabulary", i, a, b, b)
		}
		if len(b) < len(prefix) {
			return nil, fmt.Errorf("bpe: merge %d (%q %q): right side shorter than continuing_subword_prefix", i, a, b)
		}
		merged := a + b[len(prefix):]
		newID, ok := vocab[merged]
		if !ok {
			return nil, fmt.Errorf("bpe: merge %d (%q %q) produces token %q missing from the vocabulary", i, a, b, merged)
		}
		m.merges[pairKey(int32(aID), int32(bID))] = bpeMergeVal{rank: int32(i), newID: int32(newID)}
	}
	_, hasSpace := vocab[spaceSymbol]
	m.spaceChunks = hasSpace && prefix == "" && suffix == "" && !ignoreMerges
	if m.spaceChunks {
		for _, mg := range merges {
			if !spaceOnlyAtStart(mg[0] + mg[1]) {
				m.spaceChunks = false
				break
			}
		}
	}
	for b := 0; b < 256; b++ {
		m.byteFallbackIDs[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteFallbackIDs[b] = int32(id)
		}
		m.byteLevelIDs[b] = -1
		if id, ok := vocab[byteToStr[b]]; ok {
			m.byteLevelIDs[b] = int32(id)
		}
	}
	return m, nil
}

func (m *bpeModel) vocab() map[string]int { return m.tokToID }

// prepareByteLevel builds rawVocab, used by ignore_merges on byte-level
// words. It runs at load time (Encode must not write to the model).
func (m *bpeModel) prepareByteLevel() {
	if !m.ignoreMerges || m.rawVocab != nil {
		return
	}
	m.rawVocab = make(map[string]int, len(m.tokToID))
	for tok, id := range m.tokToID {
		raw := make([]byte, 0, len(tok))
		ok := true
		for _, r := range tok {
			b, in := runeToByte[r]
			if !in {
				ok = false
				break
			}
			raw = append(raw, b)
		}
		if ok {
			m.rawVocab[string(raw)] = id
		}
	}
}

func (m *bpeModel) tokenize(st *encState, word string, byteLevel bool, dst []int) []int {
	if word == "" {
		return dst
	}
	if byteLevel && m.suffix == "" && m.prefix == "" {
		fast := true
		for i := 0; i < len(word); i++ {
			if m.byteLevelIDs[word[i]] < 0 {
				fast = false
				break
			}
		}
		if !fast {
			// Some byte is missing from the alphabet: take the general path,
			// uncached (its keys would clash with raw-byte keys).
			mapped := byteLevelEncode(word)
			if m.ignoreMerges {
				if id, ok := m.tokToID[mapped]; ok {
					return append(dst, id)
				}
			}
			return m.finish(st, "", m.initialSymbols(st.syms[:0], mapped), dst)
		}
		if m.ignoreMerges && m.rawVocab != nil {
			if id, ok := m.rawVocab[word]; ok {
				return append(dst, id)
			}
		}
		if ids, ok := st.bpeCache[word]; ok {
			return append(dst, ids...)
		}
		syms := st.syms[:0]
		for i := 0; i < len(word); i++ {
			syms = append(syms, bpeSym{id: m.byteLevelIDs[word[i]]})
		}
		return m.finish(st, word, syms, dst)
	}
	if byteLevel {
		word = byteLevelEncode(word)
	}
	if m.ignoreMerges {
		if id, ok := m.tokToID[word]; ok {
			return append(dst, id)
		}
	}
	if m.spaceChunks && len(word) > 64 {
		forSPMChunks(word, func(chunk string) { dst = m.tokenizeChunk(st, chunk, dst) })
		return dst
	}
	return m.tokenizeChunk(st, word, dst)
}

func (m *bpeModel) tokenizeChunk(st *encState, word string, dst []int) []int {
	if ids, ok := st.bpeCache[word]; ok {
		return append(dst, ids...)
	}
	syms := m.initialSymbols(st.syms[:0], word)
	return m.finish(st, word, syms, dst)
}

// spaceOnlyAtStart reports whether every ▁ in s follows another ▁ or starts
// s, i.e. s never has a non-▁ rune directly before a ▁.
func spaceOnlyAtStart(s string) bool {
	prevSpace := true
	for _, r := range s {
		if r == '\u2581' && !prevSpace {
			return false
		}
		prevSpace = r == '\u2581'
	}
	return true
}

// initialSymbols splits word into characters looked up in the vocabulary,
// with the unknown / byte-fallback handling of the reference merge_word.
func (m *bpeModel) initialSymbols(syms []bpeSym, word string) []bpeSym {
	pendingUnk := false
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		ch := word[i : i+n]
		first, last := i == 0, i+n == len(word)
		i += n
		s := ch
		if !first && m.prefix != "" {
			s = m.prefix + s
		}
		if last && m.suffix != "" {
			s += m.suffix
		}
		if id, ok := m.tokToID[s]; ok {
			if pendingUnk {
				syms = append(syms, bpeSym{id: int32(m.unkID)})
				pendingUnk = false
			}
			syms = append(syms, bpeSym{id: int32(id)})
			continue
		}
		if m.byteFallback {
			all := true
			for k := 0; k < len(s); k++ {
				if m.byteFallbackIDs[s[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				// The reference does not flush a pending unk here: it stays
				// pending and lands after these bytes.
				for k := 0; k < len(s); k++ {
					syms = append(syms, bpeSym{id: m.byteFallbackIDs[s[k]]})
				}
				continue
			}
		}
		if m.unkID >= 0 {
			if pendingUnk && !m.fuseUnk {
				syms = append(syms, bpeSym{id: int32(m.unkID)})
			}
			pendingUnk = true
		}
	}
	if pendingUnk {
		syms = append(syms, bpeSym{id: int32(m.unkID)})
	}
	return syms
}

// finish applies the merges to syms, appends the ids to dst and caches them.
func (m *bpeModel) finish(st *encState, key string, syms []bpeSym, dst []int) []int {
	n := len(syms)
	for i := range syms {
		syms[i].prev, syms[i].next, syms[i].alive = int32(i-1), int32(i+1), true
	}
	if n > 0 {
		syms[n-1].next = -1
	}
	h := st.heap[:0]
	for i := 0; i+1 < n; i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = heapPush(h, bpeMerge{rank: v.rank, pos: int32(i), newID: v.newID}, mergeLess)
		}
	}
	for len(h) > 0 {
		var top bpeMerge
		top, h = heapPop(h, mergeLess)
		s := &syms[top.pos]
		if !s.alive || s.next < 0 {
			continue
		}
		right := &syms[s.next]
		v, ok := m.merges[pairKey(s.id, right.id)]
		if !ok || v.newID != top.newID {
			continue
		}
		s.id = top.newID
		right.alive = false
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = top.pos
		}
		if s.prev >= 0 {
			if v, ok := m.merges[pairKey(syms[s.prev].id, s.id)]; ok {
				h = heapPush(h, bpeMerge{rank: v.rank, pos: s.prev, newID: v.newID}, mergeLess)
			}
		}
		if s.next >= 0 {
			if v, ok := m.merges[pairKey(s.id, syms[s.next].id)]; ok {
				h = heapPush(h, bpeMerge{rank: v.rank, pos: top.pos, newID: v.newID}, mergeLess)
			}
		}
	}
	st.heap = h
	st.syms = syms
	start := len(dst)
	for i := 0; i >= 0 && i < n; i = int(syms[i].next) {
		dst = append(dst, int(syms[i].id))
	}
	if key != "" && len(key) < 256 {
		if len(st.bpeCache) >= maxCacheEntries {
			clear(st.bpeCache)
		}
		st.bpeCache[key] = append([]int(nil), dst[start:]...)
	}
	return dst
}

func mergeLess(a, b bpeMerge) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// bpeReference is the plain BPE of the merge rules: repeatedly merge the
// adjacent pair of lowest rank (leftmost among equals) until none applies.
// It is quadratic and exists to check finish (the heap version) in tests.
func (m *bpeModel) bpeReference(ids []int32) []int32 {
	ids = append([]int32(nil), ids...)
	for {
		best, bestPos := bpeMergeVal{rank: -1}, -1
		for i := 0; i+1 < len(ids); i++ {
			if v, ok := m.merges[pairKey(ids[i], ids[i+1])]; ok && (bestPos < 0 || v.rank < best.rank) {
				best, bestPos = v, i
			}
		}
		if bestPos < 0 {
			return ids
		}
		ids[bestPos] = best.newID
		ids = append(ids[:bestPos+1], ids[bestPos+2:]...)
	}
}
