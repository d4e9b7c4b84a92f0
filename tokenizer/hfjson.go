package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/llmcbench/gollm/internal/badinput"
)

// hfEngine is the tokenizer.json pipeline.
type hfEngine struct {
	addedRaw  *addedMatcher // added tokens matched on the raw text
	addedNorm *addedMatcher // added tokens matched after normalization
	norm      normalizer
	pre       preTokenizer
	// byteLevelModel: the pre-tokenizer's last stage is ByteLevel, whose byte
	// mapping the model does itself (faster, same ids).
	byteLevelModel bool
	model          model
	// cutSafe: long texts may be pre-tokenized in pieces (see cutSafe).
	cutSafe bool
	post    postProcessor
	dec     decoder
	// decodeTok is the token string Decode uses for each id: the added
	// token's (normalized) content, else the model's vocabulary entry.
	decodeTok     []string
	specialString map[string]bool
}

func (e *hfEngine) encode(st *encState, text string, dst []int) []int {
	var segBuf [8]segment
	segs := e.addedRaw.split(piece{s: text, first: true}, segBuf[:0])
	for _, sg := range segs {
		if sg.id >= 0 {
			dst = append(dst, sg.id)
			continue
		}
		s := sg.s
		if e.norm != nil {
			s = e.norm.normalize(s)
		}
		if e.addedNorm != nil && e.addedNorm.any {
			var sub [8]segment
			for _, ss := range e.addedNorm.split(piece{s: s, first: sg.first}, sub[:0]) {
				if ss.id >= 0 {
					dst = append(dst, ss.id)
					continue
				}
				dst = e.encodePiece(st, piece{s: ss.s, first: ss.first}, dst)
			}
			continue
		}
		dst = e.encodePiece(st, piece{s: s, first: sg.first}, dst)
	}
	return dst
}

// encodePieceSize is the length above which encodePiece pre-tokenizes a
// text in pieces (a variable so tests can force tiny pieces).
var encodePieceSize = 1 << 16

// encodePiece pre-tokenizes p and tokenizes its words. A long text is cut
// into pieces of about encodePieceSize bytes before spaces that follow a
// non-space, where the pre-tokenizer splits anyway (cutSafe), so memory is
// bounded by the piece, not the text, and the ids are those of the whole.
func (e *hfEngine) encodePiece(st *encState, p piece, dst []int) []int {
	if p.s == "" {
		return dst
	}
	if e.pre == nil {
		return e.model.tokenize(st, p.s, false, dst)
	}
	if e.cutSafe && len(p.s) > encodePieceSize {
		for len(p.s) > encodePieceSize {
			c := spaceCut(p.s, encodePieceSize)
			if c < 0 {
				break
			}
			dst = e.encodeWords(st, piece{s: p.s[:c], first: p.first, cont: p.cont}, dst)
			p = piece{s: p.s[c:], cont: true}
		}
	}
	return e.encodeWords(st, p, dst)
}

// encodeWords pre-tokenizes p and tokenizes each word.
func (e *hfEngine) encodeWords(st *encState, p piece, dst []int) []int {
	in := append(st.pieces2[:0], p)
	words := e.pre.split(st, in, st.pieces[:0])
	for _, w := range words {
		dst = e.model.tokenize(st, w.s, e.byteLevelModel, dst)
	}
	st.pieces = words[:0]
	st.pieces2 = in[:0]
	return dst
}

func (e *hfEngine) postProcess(ids []int) []int {
	if e.post == nil {
		return ids
	}
	return e.post.process(ids)
}

func (e *hfEngine) decode(t *Tokenizer, ids []int, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(e.decodeTok) {
			continue
		}
		tok := e.decodeTok[id]
		if tok == "" {
			continue
		}
		if skipSpecial && e.specialString[tok] {
			continue
		}
		toks = append(toks, tok)
	}
	if e.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(e.dec.decodeChain(toks), "")
}

// JSON schema of tokenizer.json.

type jsonFile struct {
	Version       string           `json:"version"`
	AddedTokens   []jsonAddedToken `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	Model         json.RawMessage  `json:"model"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Truncation    json.RawMessage  `json:"truncation"`
	Padding       json.RawMessage  `json:"padding"`
}

// maxTokenID bounds token ids (the largest vocabularies hold about 2^18
// tokens; models.MaxWidth bounds vocab_size at the same 2^24).
const maxTokenID = 1 << 24

type jsonAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

type jsonPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p jsonPattern) compile() (matcher, error) {
	switch {
	case p.String != nil:
		return compileMatcher(*p.String, true)
	case p.Regex != nil:
		return compileMatcher(*p.Regex, false)
	}
	return nil, errors.New("pattern has neither String nor Regex")
}

// typeOf returns the "type" of a component object.
func typeOf(raw json.RawMessage) (string, error) {
	var h struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", err
	}
	return h.Type, nil
}

// errUnsupportedType is what a component's ofType function returns for a
// type it does not know (parseComponent names the kind and type).
var errUnsupportedType = errors.New("unsupported type")

// parseComponent parses a tokenizer.json component of the given kind
// ("normalizer", "pre-tokenizer", "decoder", "post-processor") depth
// Sequences down: a Sequence (its items under seqKey, each parsed one
// level deeper and refused past maxNesting, combined by seq) or a single
// component, which ofType parses.
func parseComponent[T any](raw json.RawMessage, depth int, kind, seqKey string, seq func([]T) T, ofType func(typ string, raw json.RawMessage) (T, error)) (T, error) {
	var zero T
	if depth > maxNesting {
		return zero, errors.New("sequence nested too deeply")
	}
	typ, err := typeOf(raw)
	switch {
	case err != nil:
		return zero, err
	case typ == "":
		return zero, errors.New("missing type")
	case typ != "Sequence":
		x, err := ofType(typ, raw)
		if errors.Is(err, errUnsupportedType) {
			return zero, fmt.Errorf("unsupported %s type %q", kind, typ)
		}
		return x, err
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		return zero, err
	}
	var items []json.RawMessage
	if r, ok := v[seqKey]; ok {
		if err := json.Unmarshal(r, &items); err != nil {
			return zero, fmt.Errorf("type Sequence: %s: %w", seqKey, err)
		}
	}
	var q []T
	for i, r := range items {
		x, err := parseComponent(r, depth+1, kind, seqKey, seq, ofType)
		if err != nil {
			return zero, fmt.Errorf("item %d of Sequence: %w", i, err)
		}
		q = append(q, x)
	}
	return seq(q), nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// LoadJSON loads a Hugging Face tokenizer.json file. BOS/EOS/PAD are not
// known from tokenizer.json alone; Load reads them from the configuration
// files beside it.
func LoadJSON(path string) (*Tokenizer, error) {
	return loadFile(path, ParseJSON)
}

// loadFile reads the tokenizer file at path and builds the tokenizer with
// parse; errors name the file, a missing one wrapped by badinput.Missing.
func loadFile(path string, parse func([]byte) (*Tokenizer, error)) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, badinput.Missing(fmt.Errorf("tokenizer %s: %w", path, err))
	}
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	t.path = path
	return t, nil
}

// ParseJSON builds a tokenizer from the bytes of a tokenizer.json file.
func ParseJSON(data []byte) (*Tokenizer, error) {
	var f jsonFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a valid tokenizer.json: %w", err)
	}
	if f.Version != "" && f.Version != "1.0" {
		return nil, fmt.Errorf("unknown tokenizer.json version %q", f.Version)
	}
	if isNull(f.Model) {
		return nil, errors.New("tokenizer.json has no model")
	}
	e := &hfEngine{}
	var err error
	if !isNull(f.Normalizer) {
		if e.norm, err = parseNormalizer(f.Normalizer); err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
	}
	if !isNull(f.PreTokenizer) {
		if e.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
		e.pre, e.byteLevelModel = deferByteLevel(e.pre)
		e.cutSafe = cutSafe(e.pre)
	}
	if e.model, err = parseModel(f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if bm, ok := e.model.(*bpeModel); ok && e.byteLevelModel {
		bm.prepareByteLevel()
	}
	if !isNull(f.Decoder) {
		if e.dec, err = parseDecoder(f.Decoder); err != nil {
			return nil, fmt.Errorf("decoder: %w", err)
		}
	}
	t := &Tokenizer{eng: e, kind: "tokenizer.json", bos: -1, eos: -1, pad: -1}

	// Vocabulary: the model's, then the added tokens, with the reference's
	// id assignment (a known token keeps its id, a new one gets the next id
	// after the model vocabulary).
	vocab := make(map[string]int, len(e.model.vocab())+len(f.AddedTokens))
	maxModelID := -1
	for tok, id := range e.model.vocab() {
		vocab[tok] = id
		if id > maxModelID {
			maxModelID = id
		}
	}
	nextID := len(e.model.vocab())
	addedByContent := map[string]int{}
	var added []*addedToken
	special := map[int]bool{}
	e.specialString = map[string]bool{}
	for i, at := range f.AddedTokens {
		if at.Content == "" {
			continue
		}
		normalized := !at.Special
		if at.Normalized != nil {
			normalized = *at.Normalized
		}
		id, ok := addedByContent[at.Content]
		if !ok {
			id, ok = e.model.vocab()[at.Content]
		}
		if !ok {
			id = nextID
			nextID++
		}
		// The reference assigns the id as above and only warns when the
		// stored one differs; a stored id no vocabulary reaches is refused.
		if at.ID < 0 || at.ID > maxTokenID {
			return nil, fmt.Errorf("added token %d: id %d out of range 0…%d", i, at.ID, maxTokenID)
		}
		if id < 0 || id > maxTokenID {
			return nil, fmt.Errorf("added token %d: assigned id %d out of range 0…%d", i, id, maxTokenID)
		}
		tok := &addedToken{id: id, content: at.Content, singleWord: at.SingleWord, lstrip: at.LStrip,
			rstrip: at.RStrip, normalized: normalized, special: at.Special}
		if normalized && e.norm != nil {
			tok.content = e.norm.normalize(at.Content)
		}
		addedByContent[at.Content] = id
		vocab[at.Content] = id
		if at.Special {
			special[id] = true
			e.specialString[at.Content] = true
		}
		// A token added twice keeps its latest options.
		replaced := false
		for k, old := range added {
			if old.id == id {
				added[k] = tok
				replaced = true
			}
		}
		if !replaced {
			added = append(added, tok)
		}
	}
	var raw, normd []*addedToken
	for _, a := range added {
		if a.normalized {
			normd = append(normd, a)
		} else {
			raw = append(raw, a)
		}
	}
	e.addedRaw = newAddedMatcher(raw)
	e.addedNorm = newAddedMatcher(normd)
	t.setVocab(vocab)
	t.special = special

	e.decodeTok = make([]string, len(t.idToTok))
	for tok, id := range e.model.vocab() {
		if id >= 0 && id < len(e.decodeTok) {
			e.decodeTok[id] = tok
		}
	}
	for _, a := range added {
		e.decodeTok[a.id] = a.content
	}
	if !isNull(f.PostProcessor) {
		if e.post, err = parsePostProcessor(f.PostProcessor); err != nil {
			return nil, fmt.Errorf("post_processor: %w", err)
		}
	}
	return t, nil
}

// deferByteLevel lets the model do the byte mapping of a final ByteLevel
// stage.
func deferByteLevel(p preTokenizer) (preTokenizer, bool) {
	switch v := p.(type) {
	case byteLevelPre:
		v.mapBytes = false
		return v, true
	case seqPre:
		if len(v) == 0 {
			return v, false
		}
		if bl, ok := v[len(v)-1].(byteLevelPre); ok {
			nv := append(seqPre(nil), v...)
			bl.mapBytes = false
			nv[len(nv)-1] = bl
			return nv, true
		}
	}
	return p, false
}

func parseBehavior(s string) (splitBehavior, error) {
	switch strings.ToLower(s) {
	case "removed":
		return behRemoved, nil
	case "isolated":
		return behIsolated, nil
	case "mergedwithprevious", "merged_with_previous":
		return behMergedWithPrevious, nil
	case "mergedwithnext", "merged_with_next":
		return behMergedWithNext, nil
	case "contiguous":
		return behContiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q", s)
}

func parsePrependScheme(s string) (prependScheme, error) {
	switch s {
	case "always", "":
		return prependAlways, nil
	case "first":
		return prependFirst, nil
	case "never":
		return prependNever, nil
	}
	return 0, fmt.Errorf("unknown prepend_scheme %q", s)
}

// parseReplace reads a Replace normalizer or decoder: its compiled
// pattern and the replacement.
func parseReplace(raw json.RawMessage) (matcher, string, error) {
	var v struct {
		Pattern jsonPattern `json:"pattern"`
		Content string      `json:"content"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, "", err
	}
	m, err := v.Pattern.compile()
	if err != nil {
		return nil, "", fmt.Errorf("type Replace: %w", err)
	}
	return m, v.Content, nil
}

// metaspace is a Metaspace pre-tokenizer's or decoder's settings (one
// struct in Hugging Face tokenizers, serving as both).
type metaspace struct {
	repl   rune
	scheme prependScheme
	split  bool
}

// parseMetaspace reads a Metaspace component: add_prefix_space=false is
// the older spelling of prepend_scheme "never", and refused beside a
// declared scheme other than "never", as tokenizers does.
func parseMetaspace(raw json.RawMessage) (metaspace, error) {
	var v struct {
		Replacement    string  `json:"replacement"`
		AddPrefixSpace *bool   `json:"add_prefix_space"`
		PrependScheme  *string `json:"prepend_scheme"`
		Split          *bool   `json:"split"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return metaspace{}, err
	}
	r, err := oneRune(v.Replacement, "Metaspace replacement")
	if err != nil {
		return metaspace{}, err
	}
	ms := metaspace{repl: r, scheme: prependAlways, split: true}
	if v.PrependScheme != nil {
		if ms.scheme, err = parsePrependScheme(*v.PrependScheme); err != nil {
			return metaspace{}, err
		}
	}
	if v.AddPrefixSpace != nil && !*v.AddPrefixSpace {
		if v.PrependScheme != nil && ms.scheme != prependNever {
			return metaspace{}, errors.New("type Metaspace: add_prefix_space does not match declared prepend_scheme")
		}
		ms.scheme = prependNever
	}
	if v.Split != nil {
		ms.split = *v.Split
	}
	return ms, nil
}

func oneRune(s, what string) (rune, error) {
	r, n := utf8.DecodeRuneInString(s)
	if s == "" || n != len(s) || r == utf8.RuneError {
		return 0, fmt.Errorf("%s %q must be one character", what, s)
	}
	return r, nil
}

const maxNesting = 64

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	return parseComponent(raw, 0, "normalizer", "normalizers", func(q []normalizer) normalizer { return seqNorm(q) }, normalizerOfType)
}

// normalizerOfType parses a normalizer of type typ other than Sequence.
func normalizerOfType(typ string, raw json.RawMessage) (normalizer, error) {
	switch typ {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "StripAccents":
		return stripAccentsNorm{}, nil
	case "Nmt":
		return nmtNorm{}, nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	case "Strip":
		var v struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return stripNorm{left: v.Left, right: v.Right}, nil
	case "Prepend":
		var v struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return prependNorm{v.Prepend}, nil
	case "Replace":
		m, content, err := parseReplace(raw)
		if err != nil {
			return nil, err
		}
		return replaceNorm{m: m, content: content}, nil
	case "BertNormalizer":
		v := struct {
			CleanText    *bool `json:"clean_text"`
			ChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    *bool `json:"lowercase"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		def := func(p *bool, d bool) bool {
			if p == nil {
				return d
			}
			return *p
		}
		n := bertNorm{cleanText: def(v.CleanText, true), chineseChars: def(v.ChineseChars, true), lowercase: def(v.Lowercase, true)}
		n.stripAccents = def(v.StripAccents, n.lowercase)
		return n, nil
	case "Precompiled":
		var v struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if v.Charsmap == nil || *v.Charsmap == "" {
			return seqNorm{}, nil
		}
		return newPrecompiledNorm(*v.Charsmap)
	}
	return nil, errUnsupportedType
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	return parseComponent(raw, 0, "pre-tokenizer", "pretokenizers", func(q []preTokenizer) preTokenizer { return seqPre(q) }, preTokenizerOfType)
}

// preTokenizerOfType parses a pre-tokenizer of type typ other than Sequence.
func preTokenizerOfType(typ string, raw json.RawMessage) (preTokenizer, error) {
	switch typ {
	case "ByteLevel":
		v := struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		p := byteLevelPre{addPrefixSpace: true, useRegex: true, mapBytes: true}
		if v.AddPrefixSpace != nil {
			p.addPrefixSpace = *v.AddPrefixSpace
		}
		if v.UseRegex != nil {
			p.useRegex = *v.UseRegex
		}
		return p, nil
	case "Split":
		var v struct {
			Pattern  jsonPattern `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		m, err := v.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("type Split: %w", err)
		}
		beh, err := parseBehavior(v.Behavior)
		if err != nil {
			return nil, fmt.Errorf("type Split: %w", err)
		}
		safe := v.Pattern.Regex != nil && cutSafePatterns[*v.Pattern.Regex] && beh == behIsolated && !v.Invert
		return splitPre{m: m, beh: beh, invert: v.Invert, cutSafe: safe}, nil
	case "Metaspace":
		ms, err := parseMetaspace(raw)
		if err != nil {
			return nil, err
		}
		return metaspacePre{repl: ms.repl, scheme: ms.scheme, split_: ms.split}, nil
	case "Whitespace":
		return splitPre{m: whitespaceMatcher{}, beh: behRemoved, invert: true, cutSafe: true}, nil
	case "WhitespaceSplit":
		return funcPre{f: isSpace, beh: behRemoved, cutSafe: true}, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Digits":
		var v struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if v.Individual {
			return funcPre{f: isNumber, beh: behIsolated}, nil
		}
		return funcPre{f: isNumber, beh: behContiguous}, nil
	case "Punctuation":
		var v struct {
			Behavior *string `json:"behavior"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		beh := behIsolated
		if v.Behavior != nil {
			b, err := parseBehavior(*v.Behavior)
			if err != nil {
				return nil, err
			}
			beh = b
		}
		return funcPre{f: isPunct, beh: beh}, nil
	case "CharDelimiterSplit":
		var v struct {
			Delimiter string `json:"delimiter"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		d, err := oneRune(v.Delimiter, "CharDelimiterSplit delimiter")
		if err != nil {
			return nil, err
		}
		return funcPre{f: func(r rune) bool { return r == d }, beh: behRemoved}, nil
	}
	return nil, errUnsupportedType
}

// parseMerges reads merges as "a b" strings or ["a", "b"] pairs.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var items []json.RawMessage
	if isNull(raw) {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	out := make([][2]string, 0, len(items))
	for i, it := range items {
		t := bytes.TrimSpace(it)
		if len(t) > 0 && t[0] == '"' {
			var s string
			if err := json.Unmarshal(t, &s); err != nil {
				return nil, fmt.Errorf("merge %d: %w", i, err)
			}
			if strings.HasPrefix(s, "#version") {
				continue
			}
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return nil, fmt.Errorf("merge %d %q is not two tokens separated by one space", i, s)
			}
			out = append(out, [2]string{parts[0], parts[1]})
			continue
		}
		var pair []string
		if err := json.Unmarshal(t, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("merge %d is neither \"a b\" nor [\"a\", \"b\"]", i)
		}
		out = append(out, [2]string{pair[0], pair[1]})
	}
	return out, nil
}

func parseModel(raw json.RawMessage) (model, error) {
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	if typ == "" {
		// Old files omit the type: guess from the fields, as the reference does.
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, err
		}
		switch {
		case probe["merges"] != nil:
			typ = "BPE"
		case probe["continuing_subword_prefix"] != nil || probe["max_input_chars_per_word"] != nil:
			typ = "WordPiece"
		case probe["unk_id"] != nil:
			typ = "Unigram"
		case probe["vocab"] != nil:
			typ = "WordLevel"
		default:
			return nil, errors.New("model has no type")
		}
	}
	switch typ {
	case "BPE":
		var v struct {
			Vocab        map[string]int  `json:"vocab"`
			Merges       json.RawMessage `json:"merges"`
			Unk          *string         `json:"unk_token"`
			Prefix       *string         `json:"continuing_subword_prefix"`
			Suffix       *string         `json:"end_of_word_suffix"`
			FuseUnk      bool            `json:"fuse_unk"`
			ByteFallback bool            `json:"byte_fallback"`
			IgnoreMerges bool            `json:"ignore_merges"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if err := checkVocab(v.Vocab); err != nil {
			return nil, err
		}
		merges, err := parseMerges(v.Merges)
		if err != nil {
			return nil, err
		}
		deref := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		return newBPE(v.Vocab, merges, deref(v.Unk), v.FuseUnk, v.ByteFallback, v.IgnoreMerges, deref(v.Prefix), deref(v.Suffix))
	case "WordPiece":
		var v struct {
			Vocab    map[string]int `json:"vocab"`
			Unk      string         `json:"unk_token"`
			Prefix   *string        `json:"continuing_subword_prefix"`
			MaxChars *int           `json:"max_input_chars_per_word"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if err := checkVocab(v.Vocab); err != nil {
			return nil, err
		}
		m := &wordPieceModel{tokToID: v.Vocab, unkID: -1, prefix: "##", maxChars: 100}
		if v.Prefix != nil {
			m.prefix = *v.Prefix
		}
		if v.MaxChars != nil {
			m.maxChars = *v.MaxChars
		}
		if v.Unk == "" {
			v.Unk = "[UNK]"
		}
		if id, ok := v.Vocab[v.Unk]; ok {
			m.unkID = id
		}
		return m, nil
	case "WordLevel":
		var v struct {
			Vocab map[string]int `json:"vocab"`
			Unk   string         `json:"unk_token"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if err := checkVocab(v.Vocab); err != nil {
			return nil, err
		}
		m := &wordLevelModel{tokToID: v.Vocab, unkID: -1}
		if id, ok := v.Vocab[v.Unk]; ok {
			m.unkID = id
		}
		return m, nil
	case "Unigram":
		var v struct {
			Vocab        [][2]json.RawMessage `json:"vocab"`
			UnkID        *int                 `json:"unk_id"`
			ByteFallback bool                 `json:"byte_fallback"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		pieces := make([]string, len(v.Vocab))
		scores := make([]float64, len(v.Vocab))
		for i, e := range v.Vocab {
			if err := json.Unmarshal(e[0], &pieces[i]); err != nil {
				return nil, fmt.Errorf("unigram vocab entry %d: %w", i, err)
			}
			if err := json.Unmarshal(e[1], &scores[i]); err != nil {
				return nil, fmt.Errorf("unigram vocab entry %d: %w", i, err)
			}
		}
		unk := -1
		if v.UnkID != nil {
			unk = *v.UnkID
			if unk < 0 {
				return nil, fmt.Errorf("unigram: negative unk_id %d", unk)
			}
		}
		return newUnigram(pieces, scores, unk, v.ByteFallback)
	}
	return nil, fmt.Errorf("unknown model type %q", typ)
}

func checkVocab(v map[string]int) error {
	for tok, id := range v {
		if id < 0 || id > 1<<26 {
			return fmt.Errorf("vocab entry %q has id %d out of range", tok, id)
		}
	}
	return nil
}

func parseDecoder(raw json.RawMessage) (decoder, error) {
	return parseComponent(raw, 0, "decoder", "decoders", func(q []decoder) decoder { return seqDec(q) }, decoderOfType)
}

// decoderOfType parses a decoder of type typ other than Sequence.
func decoderOfType(typ string, raw json.RawMessage) (decoder, error) {
	switch typ {
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Metaspace":
		ms, err := parseMetaspace(raw)
		if err != nil {
			return nil, err
		}
		return metaspaceDec{repl: ms.repl, scheme: ms.scheme}, nil
	case "Replace":
		m, content, err := parseReplace(raw)
		if err != nil {
			return nil, err
		}
		return replaceDec{m: m, content: content}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		var v struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		r, err := oneRune(v.Content, "Strip content")
		if err != nil {
			return nil, err
		}
		if v.Start < 0 || v.Stop < 0 {
			return nil, errors.New("type Strip: negative start/stop")
		}
		return stripDec{content: r, start: v.Start, stop: v.Stop}, nil
	case "WordPiece":
		v := struct {
			Prefix  *string `json:"prefix"`
			Cleanup *bool   `json:"cleanup"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		d := wordPieceDec{prefix: "##", cleanup: true}
		if v.Prefix != nil {
			d.prefix = *v.Prefix
		}
		if v.Cleanup != nil {
			d.cleanup = *v.Cleanup
		}
		return d, nil
	case "BPEDecoder":
		v := struct {
			Suffix *string `json:"suffix"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		d := bpeDec{suffix: "</w>"}
		if v.Suffix != nil {
			d.suffix = *v.Suffix
		}
		return d, nil
	case "CTC":
		v := struct {
			Pad     *string `json:"pad_token"`
			Delim   *string `json:"word_delimiter_token"`
			Cleanup *bool   `json:"cleanup"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		d := ctcDec{pad: "<pad>", delim: "|", cleanup: true}
		if v.Pad != nil {
			d.pad = *v.Pad
		}
		if v.Delim != nil {
			d.delim = *v.Delim
		}
		if v.Cleanup != nil {
			d.cleanup = *v.Cleanup
		}
		return d, nil
	}
	return nil, errUnsupportedType
}

func parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	return parseComponent(raw, 0, "post-processor", "processors", func(q []postProcessor) postProcessor { return seqPost(q) }, postProcessorOfType)
}

// postProcessorOfType parses a post-processor of type typ other than
// Sequence.
func postProcessorOfType(typ string, raw json.RawMessage) (postProcessor, error) {
	switch typ {
	case "TemplateProcessing":
		var v struct {
			Single        json.RawMessage `json:"single"`
			SpecialTokens map[string]struct {
				ID  string `json:"id"`
				IDs []int  `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		items, err := parseTemplate(v.Single)
		if err != nil {
			return nil, err
		}
		var p templatePost
		for _, it := range items {
			if it.seq {
				p.single = append(p.single, templateItem{seq: true})
				continue
			}
			st, ok := v.SpecialTokens[it.name]
			if !ok {
				return nil, fmt.Errorf("TemplateProcessing: special token %q is not in special_tokens", it.name)
			}
			p.single = append(p.single, templateItem{special: st.IDs})
		}
		return p, nil
	case "RobertaProcessing", "BertProcessing":
		var v struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		var p wrapPost
		if err := json.Unmarshal(v.Sep[1], &p.sep); err != nil {
			return nil, fmt.Errorf("%s sep: %w", typ, err)
		}
		if err := json.Unmarshal(v.Cls[1], &p.cls); err != nil {
			return nil, fmt.Errorf("%s cls: %w", typ, err)
		}
		return p, nil
	case "ByteLevel":
		return identityPost{}, nil
	}
	return nil, errUnsupportedType
}

type templatePiece struct {
	seq  bool
	name string
}

// parseTemplate reads a template as the serialized list of pieces or as the
// "$A" / "[CLS] $A [SEP]" string form.
func parseTemplate(raw json.RawMessage) ([]templatePiece, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, err
		}
		var out []templatePiece
		for _, f := range strings.Fields(s) {
			if strings.HasPrefix(f, "$") {
				name := strings.SplitN(f[1:], ":", 2)[0]
				if name == "" || name == "A" || name == "0" {
					out = append(out, templatePiece{seq: true})
				}
				continue // $B only appears in pair templates
			}
			out = append(out, templatePiece{name: strings.SplitN(f, ":", 2)[0]})
		}
		return out, nil
	}
	var items []struct {
		Special *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	}
	if err := json.Unmarshal(t, &items); err != nil {
		return nil, fmt.Errorf("TemplateProcessing single: %w", err)
	}
	var out []templatePiece
	for i, it := range items {
		switch {
		case it.Special != nil:
			out = append(out, templatePiece{name: it.Special.ID})
		case it.Sequence != nil:
			out = append(out, templatePiece{seq: true})
		default:
			return nil, fmt.Errorf("TemplateProcessing single[%d]: neither SpecialToken nor Sequence", i)
		}
	}
	return out, nil
}
