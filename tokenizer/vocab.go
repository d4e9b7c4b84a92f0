package tokenizer

import (
	"fmt"
	"sort"
)

// Token types, numbered as SentencePiece's ModelProto.SentencePiece.Type
// (and GGUF's tokenizer.ggml.token_type, which copies it).
const (
	TokenNormal      = spmNormal
	TokenUnknown     = spmUnknown
	TokenControl     = spmControl
	TokenUserDefined = spmUserDefined
	TokenUnused      = spmUnused
	TokenByte        = spmByte
)

// VocabEntry is one token of the vocabulary as a model file stores it: its
// string (SentencePiece's ▁-spelled piece or byte-level BPE's byte-mapped
// runes), its score (SentencePiece; 0 for BPE) and its type (TokenNormal …).
type VocabEntry struct {
	Text  string
	Score float32
	Type  int
}

// Vocabulary describes the tokenizer's model for writing it into another
// format (GGUF): Model is "sentencepiece" or "bpe-bytelevel"; Tokens has one
// entry per id; Merges (byte-level BPE only) lists the merge pairs in rank
// order as "left right". It costs a copy of the vocabulary. Tokenizers of
// other kinds (WordPiece, Unigram tokenizer.json, ChatGLM) are refused with
// an error.
func (t *Tokenizer) Vocabulary() (model string, tokens []VocabEntry, merges []string, err error) {
	switch e := t.eng.(type) {
	case *spmEngine:
		if e.proto.trainer.modelType != spmBPE && e.proto.trainer.modelType != spmUnigram {
			return "", nil, nil, fmt.Errorf("tokenizer %s: SentencePiece model type %d is neither BPE nor Unigram", t.path, e.proto.trainer.modelType)
		}
		tokens = make([]VocabEntry, 0, len(e.pieces)+len(e.extra))
		for _, p := range e.pieces {
			tokens = append(tokens, VocabEntry{Text: p.piece, Score: p.score, Type: p.typ})
		}
		for i, s := range e.extra {
			typ := TokenUserDefined
			if i < len(e.extraSpecial) && e.extraSpecial[i] {
				typ = TokenControl
			}
			tokens = append(tokens, VocabEntry{Text: s, Type: typ})
		}
		return "sentencepiece", tokens, nil, nil
	case *hfEngine:
		bm, ok := e.model.(*bpeModel)
		if !ok || !e.byteLevelModel {
			return "", nil, nil, fmt.Errorf("tokenizer %s: only SentencePiece and byte-level BPE tokenizers can be exported", t.path)
		}
		tokens = make([]VocabEntry, len(t.idToTok))
		for id, s := range t.idToTok {
			typ := TokenNormal
			if t.special[id] {
				typ = TokenControl
			}
			tokens[id] = VocabEntry{Text: s, Type: typ}
		}
		type rankedMerge struct {
			rank int32
			text string
		}
		ranked := make([]rankedMerge, 0, len(bm.merges))
		for key, v := range bm.merges {
			a, b := int(int32(uint32(key>>32))), int(int32(uint32(key)))
			ranked = append(ranked, rankedMerge{v.rank, t.IDToToken(a) + " " + t.IDToToken(b)})
		}
		sort.Slice(ranked, func(i, j int) bool { return ranked[i].rank < ranked[j].rank })
		merges = make([]string, len(ranked))
		for i, m := range ranked {
			merges[i] = m.text
		}
		return "bpe-bytelevel", tokens, merges, nil
	}
	return "", nil, nil, fmt.Errorf("tokenizer %s: a %s tokenizer cannot be exported", t.path, t.kind)
}
