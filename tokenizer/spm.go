package tokenizer

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

const spaceSymbol = "\u2581" // ▁

// spmEngine reproduces sentencepiece's SentencePieceProcessor for BPE and
// Unigram models: its normalizer (precompiled charsmap, dummy prefix,
// whitespace handling), its encoders and its decoder.
type spmEngine struct {
	proto    *spmModelProto
	pieces   []spmPiece
	pieceIDs map[string]int // NORMAL, USER_DEFINED and UNUSED pieces
	reserved map[string]int // CONTROL, UNKNOWN and BYTE pieces
	unkID    int
	byteIDs  [256]int // id of "<0xXX>", -1 if absent

	userDefined *byteTrie // longest-match prefix matcher of user symbols
	charsmap    *charsMap // nil: identity

	// BPE: text can be cut before every ▁ that follows a non-▁ rune, since no
	// piece spans such a point (see chunkable in LoadSentencePiece).
	chunkable bool

	// Unigram
	trie               *byteTrie
	minScore, maxScore float32

	// extra holds tokens with ids from len(pieces) on: ChatGLM's special
	// tokens, or added tokens from tokenizer_config.json. extraMatch (nil for
	// ChatGLM) finds the latter in text.
	extra        []string
	extraSpecial []bool
	extraMatch   *addedMatcher
}

// LoadSentencePiece loads a SentencePiece tokenizer.model (BPE or Unigram).
// Encode(text, false) equals sentencepiece's encode(text); Encode(text,
// true) prepends BOS (LLaMA's tokenizers add it).
func LoadSentencePiece(path string) (*Tokenizer, error) {
	return loadFile(path, ParseSentencePiece)
}

// ParseSentencePiece builds a tokenizer from the bytes of a SentencePiece
// model file.
func ParseSentencePiece(data []byte) (*Tokenizer, error) {
	mp, err := parseModelProto(data)
	if err != nil {
		return nil, fmt.Errorf("not a SentencePiece model: %w", err)
	}
	e, err := newSPMEngine(mp)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{eng: e, kind: "sentencepiece", bos: -1, eos: -1, pad: -1, special: map[int]bool{}}
	vocab := make(map[string]int, len(mp.pieces))
	for id, p := range mp.pieces {
		if _, dup := vocab[p.piece]; !dup {
			vocab[p.piece] = id
		}
		if p.typ == spmControl || p.typ == spmUnknown {
			t.special[id] = true
		}
	}
	t.tokToID = vocab
	t.idToTok = make([]string, len(mp.pieces))
	for id, p := range mp.pieces {
		t.idToTok[id] = p.piece
	}
	n := len(mp.pieces)
	valid := func(id int) int {
		if id >= 0 && id < n {
			return id
		}
		return -1
	}
	t.bos, t.eos, t.pad = valid(mp.trainer.bosID), valid(mp.trainer.eosID), valid(mp.trainer.pad)
	t.addBOS = t.bos >= 0
	return t, nil
}

func newSPMEngine(mp *spmModelProto) (*spmEngine, error) {
	if len(mp.pieces) == 0 {
		return nil, fmt.Errorf("model has no pieces")
	}
	switch mp.trainer.modelType {
	case spmBPE, spmUnigram:
	case spmWord, spmChar:
		return nil, fmt.Errorf("SentencePiece model type %d (WORD/CHAR) is not supported", mp.trainer.modelType)
	default:
		return nil, fmt.Errorf("unknown SentencePiece model type %d", mp.trainer.modelType)
	}
	e := &spmEngine{proto: mp, pieces: mp.pieces, pieceIDs: map[string]int{}, reserved: map[string]int{},
		unkID: -1, userDefined: newByteTrie()}
	for b := range e.byteIDs {
		e.byteIDs[b] = -1
	}
	hasUser := false
	for id, p := range mp.pieces {
		if p.piece == "" {
			return nil, fmt.Errorf("piece %d is empty", id)
		}
		if !utf8.ValidString(p.piece) {
			return nil, fmt.Errorf("piece %d is not valid UTF-8", id)
		}
		switch p.typ {
		case spmNormal, spmUserDefined, spmUnused:
			if _, dup := e.pieceIDs[p.piece]; dup {
				return nil, fmt.Errorf("piece %q is defined twice", p.piece)
			}
			e.pieceIDs[p.piece] = id
		case spmUnknown, spmControl, spmByte:
			if _, dup := e.reserved[p.piece]; dup {
				return nil, fmt.Errorf("piece %q is defined twice", p.piece)
			}
			e.reserved[p.piece] = id
		default:
			return nil, fmt.Errorf("piece %d (%q) has unknown type %d", id, p.piece, p.typ)
		}
		switch p.typ {
		case spmUserDefined:
			e.userDefined.insert(p.piece, id)
			hasUser = true
		case spmUnknown:
			if e.unkID >= 0 {
				return nil, fmt.Errorf("unk is defined twice")
			}
			e.unkID = id
		case spmByte:
			if !mp.trainer.byteFallback {
				return nil, fmt.Errorf("byte piece %q found although byte_fallback is false", p.piece)
			}
			b, ok := parseByteToken(p.piece)
			if !ok {
				return nil, fmt.Errorf("byte piece %q is not <0xXX>", p.piece)
			}
			e.byteIDs[b] = id
		}
	}
	if !hasUser {
		e.userDefined = nil
	}
	if e.unkID < 0 {
		return nil, fmt.Errorf("unk is not defined")
	}
	if mp.trainer.byteFallback {
		for b, id := range e.byteIDs {
			if id < 0 {
				return nil, fmt.Errorf("byte_fallback is set but piece <0x%02X> is missing", b)
			}
		}
	}
	if len(mp.normalizer.charsmap) > 0 {
		cm, err := newCharsMap(mp.normalizer.charsmap)
		if err != nil {
			return nil, fmt.Errorf("normalizer_spec: %w", err)
		}
		e.charsmap = cm
	}
	// No piece spans a ▁ that follows a non-▁ rune: BPE and Unigram may
	// then encode the text between such points separately.
	e.chunkable = true
	for p := range e.pieceIDs {
		prevSpace := true
		for _, r := range p {
			if r == '\u2581' && !prevSpace {
				e.chunkable = false
				break
			}
			prevSpace = r == '\u2581'
		}
		if !e.chunkable {
			break
		}
	}
	switch mp.trainer.modelType {
	case spmBPE:
	case spmUnigram:
		e.trie = newByteTrie()
		e.minScore = math.MaxFloat32
		e.maxScore = 1.17549435e-38 // FLT_MIN, the reference's (odd) start value
		for id, p := range mp.pieces {
			if p.typ == spmNormal {
				e.minScore = min(e.minScore, p.score)
				e.maxScore = max(e.maxScore, p.score)
			}
			if p.typ == spmNormal || p.typ == spmUserDefined || p.typ == spmUnused {
				e.trie.insert(p.piece, id)
			}
		}
	}
	return e, nil
}

// pieceToID is sentencepiece's PieceToId: reserved pieces, then normal
// ones, else unk.
func (e *spmEngine) pieceToID(s string) int {
	if id, ok := e.reserved[s]; ok {
		return id
	}
	if id, ok := e.pieceIDs[s]; ok {
		return id
	}
	return e.unkID
}

// prefixMatch is the length of the longest user-defined symbol at the start
// of s (found reports whether there is one), else of its first rune.
func (e *spmEngine) prefixMatch(s string) (int, bool) {
	if e.userDefined != nil {
		best := 0
		e.userDefined.prefixes(s, func(_ int32, n int) { best = n })
		if best > 0 {
			return best, true
		}
	}
	return min(len(s), oneCharLen(s[0])), false
}

var oneCharLenTable = [16]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}

// oneCharLen is sentencepiece's OneCharLen: the length a UTF-8 lead byte
// announces.
func oneCharLen(c byte) int {
	return int(oneCharLenTable[c>>4])
}

// normalizePrefix is sentencepiece's Normalizer::NormalizePrefix: the
// normalized form of the longest rule at the start of s and the number of
// bytes it consumes.
func (e *spmEngine) normalizePrefix(s string) (string, int) {
	if e.userDefined != nil {
		if n, found := e.prefixMatch(s); found {
			return s[:n], n
		}
	}
	if e.charsmap != nil {
		if out, n := e.charsmap.longest(s); n > 0 {
			return out, n
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n <= 1 {
		return "\uFFFD", 1
	}
	return s[:n], n
}

// normalize is sentencepiece's Normalizer::Normalize.
func (e *spmEngine) normalize(in string) string {
	spec := &e.proto.normalizer
	suffix := e.proto.trainer.treatWhitespaceAsSuffix
	if in == "" {
		return ""
	}
	if spec.removeExtraWhitespaces {
		for in != "" {
			p, n := e.normalizePrefix(in)
			if p != " " {
				break
			}
			in = in[n:]
		}
	}
	if in == "" {
		return ""
	}
	space := " "
	if spec.escapeWhitespaces {
		space = spaceSymbol
	}
	var b strings.Builder
	b.Grow(len(in) * 3 / 2)
	if !suffix && spec.addDummyPrefix {
		b.WriteString(space)
	}
	prevSpace := spec.removeExtraWhitespaces
	for in != "" {
		p, n := e.normalizePrefix(in)
		for prevSpace && strings.HasPrefix(p, " ") {
			p = p[1:]
		}
		if p != "" {
			if spec.escapeWhitespaces {
				b.WriteString(strings.ReplaceAll(p, " ", spaceSymbol))
			} else {
				b.WriteString(p)
			}
			prevSpace = strings.HasSuffix(p, " ")
		}
		in = in[n:]
		if !spec.removeExtraWhitespaces {
			prevSpace = false
		}
	}
	out := b.String()
	if spec.removeExtraWhitespaces {
		for strings.HasSuffix(out, space) {
			out = out[:len(out)-len(space)]
		}
	}
	if suffix && spec.addDummyPrefix {
		out += space
	}
	return out
}

func (e *spmEngine) postProcess(ids []int) []int { return ids }

func (e *spmEngine) encode(st *encState, text string, dst []int) []int {
	if e.extraMatch != nil && e.extraMatch.any {
		for _, sg := range e.extraMatch.split(piece{s: text, first: true}, nil) {
			if sg.id >= 0 {
				dst = append(dst, sg.id)
			} else {
				dst = e.encodeText(st, sg.s, dst)
			}
		}
		return dst
	}
	return e.encodeText(st, text, dst)
}

func (e *spmEngine) encodeText(st *encState, text string, dst []int) []int {
	norm := e.normalize(text)
	if norm == "" {
		return dst
	}
	start := len(dst)
	if e.proto.trainer.modelType == spmUnigram {
		if !e.chunkable {
			dst, _ = e.encodeUnigram(norm, 0, dst)
		} else {
			// Viterbi over pieces of about encodePieceSize bytes cut where
			// no piece spans, each starting from the score the whole-text
			// lattice has there: the same arithmetic, the same ids.
			var score float32
			start := 0
			forSPMCuts(norm, func(c int) {
				if c-start >= encodePieceSize {
					dst, score = e.encodeUnigram(norm[start:c], score, dst)
					start = c
				}
			})
			dst, _ = e.encodeUnigram(norm[start:], score, dst)
		}
	} else if e.chunkable {
		forSPMChunks(norm, func(chunk string) {
			if ids, ok := st.spmCache[chunk]; ok {
				dst = append(dst, ids...)
				return
			}
			k := len(dst)
			dst = e.encodeBPE(st, chunk, dst)
			if len(chunk) < 256 {
				if len(st.spmCache) >= maxCacheEntries {
					clear(st.spmCache)
				}
				st.spmCache[chunk] = append([]int(nil), dst[k:]...)
			}
		})
	} else {
		dst = e.encodeBPE(st, norm, dst)
	}
	// Consecutive unknown pieces become one <unk> (PopulateSentencePieceText).
	if !e.proto.trainer.byteFallback {
		out := dst[:start]
		for i := start; i < len(dst); i++ {
			if dst[i] == e.unkID && len(out) > start && out[len(out)-1] == e.unkID {
				continue
			}
			out = append(out, dst[i])
		}
		dst = out
	}
	return dst
}

// forSPMCuts calls f with every index of s before a ▁ that follows a non-▁
// rune, in increasing order.
func forSPMCuts(s string, f func(i int)) {
	for i := 3; i+3 <= len(s); i++ {
		if s[i] == 0xE2 && s[i+1] == 0x96 && s[i+2] == 0x81 && !(s[i-3] == 0xE2 && s[i-2] == 0x96 && s[i-1] == 0x81) {
			f(i)
		}
	}
}

// forSPMChunks calls f with each piece of s between the cuts of forSPMCuts
// (the whole of s when there are none), without collecting them.
func forSPMChunks(s string, f func(chunk string)) {
	start := 0
	forSPMCuts(s, func(i int) {
		f(s[start:i])
		start = i
	})
	f(s[start:])
}

// emit appends the id of a final piece, applying byte fallback to unknown
// pieces.
func (e *spmEngine) emit(piece string, id int, dst []int) []int {
	if id == e.unkID && e.proto.trainer.byteFallback {
		for i := 0; i < len(piece); i++ {
			dst = append(dst, e.byteIDs[piece[i]])
		}
		return dst
	}
	return append(dst, id)
}

type spmSym struct {
	start, size int32
	prev, next  int32
	freeze      bool
}

type spmPair struct {
	score       float32
	left, right int32
	size        int32
}

func spmPairLess(a, b spmPair) bool { // a has higher priority
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

// encodeBPE is bpe::Model::SampleEncode without dropout: merge the adjacent
// pair whose concatenation is the highest-scoring piece (leftmost among
// equals) until none is left, then resegment unused pieces.
func (e *spmEngine) encodeBPE(st *encState, s string, dst []int) []int {
	syms := st.spmSyms[:0]
	for i := 0; i < len(s); {
		n, frozen := e.prefixMatch(s[i:])
		k := int32(len(syms))
		syms = append(syms, spmSym{start: int32(i), size: int32(n), prev: k - 1, next: k + 1, freeze: frozen})
		i += n
	}
	if len(syms) == 0 {
		return dst
	}
	syms[len(syms)-1].next = -1
	var revMerge map[string][2]string
	h := st.spmHeap[:0]
	maybeAdd := func(left, right int32) {
		if left < 0 || right < 0 || syms[left].freeze || syms[right].freeze {
			return
		}
		a, b := syms[left], syms[right]
		piece := s[a.start : a.start+a.size+b.size]
		id, ok := e.pieceIDs[piece]
		if !ok {
			return
		}
		h = heapPush(h, spmPair{score: e.pieces[id].score, left: left, right: right, size: a.size + b.size}, spmPairLess)
		if e.pieces[id].typ == spmUnused {
			if revMerge == nil {
				revMerge = map[string][2]string{}
			}
			revMerge[piece] = [2]string{s[a.start : a.start+a.size], s[b.start : b.start+b.size]}
		}
	}
	for i := int32(1); i < int32(len(syms)); i++ {
		maybeAdd(i-1, i)
	}
	for len(h) > 0 {
		var top spmPair
		top, h = heapPop(h, spmPairLess)
		l, r := &syms[top.left], &syms[top.right]
		if l.size == 0 || r.size == 0 || l.size+r.size != top.size {
			continue
		}
		l.size += r.size
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.size = 0
		maybeAdd(l.prev, top.left)
		maybeAdd(top.left, l.next)
	}
	st.spmHeap = h[:0]
	st.spmSyms = syms[:0]
	var resegment func(w string)
	resegment = func(w string) {
		id := e.pieceToID(w)
		if id < 0 || id >= len(e.pieces) || e.pieces[id].typ != spmUnused {
			dst = e.emit(w, id, dst)
			return
		}
		p, ok := revMerge[w]
		if !ok {
			dst = e.emit(w, id, dst)
			return
		}
		resegment(p[0])
		resegment(p[1])
	}
	for i := int32(0); i >= 0 && int(i) < len(syms); i = syms[i].next {
		sy := syms[i]
		resegment(s[sy.start : sy.start+sy.size])
	}
	return dst
}

// encodeUnigram is unigram::Model::EncodeOptimized: Viterbi over the piece
// scores with the reference's float32 arithmetic (float64 for user-defined
// symbols, as in the C++ code).
// encodeUnigram appends the Viterbi segmentation of s, the lattice starting
// at score base (0 for a whole text; the whole text's score at the cut for
// a piece of it), and returns the lattice's score at the end of s.
func (e *spmEngine) encodeUnigram(s string, base float32, dst []int) ([]int, float32) {
	type node struct {
		id       int32
		score    float32
		startsAt int32
	}
	size := len(s)
	best := make([]node, size+1)
	for i := range best {
		best[i].startsAt = -1
		best[i].id = -1
	}
	best[0].score = base
	unkScore := e.minScore - unkPenalty
	for start := 0; start < size; {
		here := best[start].score
		mblen := min(oneCharLen(s[start]), size-start)
		single := false
		e.trie.prefixes(s[start:], func(id int32, n int) {
			p := e.pieces[id]
			if p.typ == spmUnused {
				return
			}
			// The C++ computes this candidate in double (the conditional
			// with the user-defined bonus has type double) and stores float.
			var score float64
			if p.typ == spmUserDefined {
				score = float64(float32(n)*e.maxScore) - 0.1
			} else {
				score = float64(p.score)
			}
			t := &best[start+n]
			cand := score + float64(here)
			if t.startsAt < 0 || cand > float64(t.score) {
				t.score, t.startsAt, t.id = float32(cand), int32(start), id
			}
			if n == mblen {
				single = true
			}
		})
		if !single {
			t := &best[start+mblen]
			cand := unkScore + here
			if t.startsAt < 0 || cand > t.score {
				t.score, t.startsAt, t.id = cand, int32(start), int32(e.unkID)
			}
		}
		start += mblen
	}
	type res struct {
		piece string
		id    int
	}
	var rev []res
	for end := size; end > 0; {
		n := best[end]
		if n.startsAt < 0 { // unreachable with a valid model; be safe
			break
		}
		rev = append(rev, res{s[n.startsAt:end], int(n.id)})
		end = int(n.startsAt)
	}
	for i := len(rev) - 1; i >= 0; i-- {
		dst = e.emit(rev[i].piece, rev[i].id, dst)
	}
	return dst, best[size].score
}

// decode is SentencePieceProcessor::Decode. Control symbols decode to
// nothing; with skipSpecial false they are written out as their piece.
func (e *spmEngine) decode(t *Tokenizer, ids []int, skipSpecial bool) string {
	var out strings.Builder
	var bytesBuf []byte
	unkSurface := e.proto.trainer.unkSurface
	spec := &e.proto.normalizer
	isBOSWS := true
	bosWSSeen := false
	runStart := 0 // ChatGLM decodes the text between its special tokens separately
	flushBytes := func() {
		for len(bytesBuf) > 0 {
			r, n := utf8.DecodeRune(bytesBuf)
			if r == utf8.RuneError && n <= 1 {
				out.WriteString("\uFFFD")
				bytesBuf = bytesBuf[1:]
				continue
			}
			out.Write(bytesBuf[:n])
			bytesBuf = bytesBuf[n:]
		}
	}
	for _, id := range ids {
		if id >= len(e.pieces) {
			if k := id - len(e.pieces); k < len(e.extra) {
				flushBytes()
				if !skipSpecial || !e.extraSpecial[k] {
					out.WriteString(e.extra[k])
				}
				isBOSWS, bosWSSeen, runStart = true, false, out.Len()
			}
			continue
		}
		if id < 0 {
			continue
		}
		p := e.pieces[id]
		if p.typ == spmByte {
			b, _ := parseByteToken(p.piece)
			bytesBuf = append(bytesBuf, b)
			continue
		}
		flushBytes()
		if bosWSSeen || out.Len() > runStart {
			isBOSWS = false
		}
		bosWSSeen = false
		switch p.typ {
		case spmControl:
			if !skipSpecial {
				out.WriteString(p.piece)
			}
			continue
		case spmUnknown:
			if skipSpecial {
				continue
			}
			out.WriteString(unkSurface)
			continue
		}
		piece := p.piece
		if isBOSWS && (spec.addDummyPrefix || spec.removeExtraWhitespaces) {
			if strings.HasPrefix(piece, spaceSymbol) {
				piece = piece[len(spaceSymbol):]
				bosWSSeen = !spec.removeExtraWhitespaces
			}
		}
		out.WriteString(strings.ReplaceAll(piece, spaceSymbol, " "))
	}
	flushBytes()
	return out.String()
}
