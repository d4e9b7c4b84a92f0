package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// File names Load looks for in a model folder.
const (
	JSONFile                = "tokenizer.json"
	SentencePieceFile       = "tokenizer.model"
	TokenizerConfigFile     = "tokenizer_config.json"
	SpecialTokensMapFile    = "special_tokens_map.json"
	GenerationConfigFile    = "generation_config.json"
	ModelConfigFile         = "config.json"
	chatGLMTokenizerClass   = "ChatGLMTokenizer"
	chatGLMTokenizationFile = "tokenization_chatglm"
)

// ErrNoTokenizer is returned (wrapped) by Load for a folder that ships
// neither tokenizer.json nor tokenizer.model.
var ErrNoTokenizer = errors.New("no tokenizer.json or tokenizer.model")

// ChatGLMSpecialTokens are the special tokens tokenization_chatglm.py (the
// ChatGLM2/ChatGLM3 SPTokenizer) appends after the SentencePiece vocabulary,
// in id order. ChatGLM2 defines the first five, ChatGLM3 all nine.
var ChatGLMSpecialTokens = []string{"[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
	"<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"}

// probeTexts are encoded by both tokenizers of a folder that ships
// tokenizer.json and tokenizer.model; they must agree.
var probeTexts = []string{
	"Hello world", "The quick brown fox jumps over the lazy dog.",
	" leading space and  two", "numbers 12345 and 3.14159",
	"Unicode: café naïve 中文 😀", "line\nbreak\ttab",
}

// Load loads the tokenizer of a Hugging Face model folder: tokenizer.json
// if present, else tokenizer.model (SentencePiece; with ChatGLM's special
// tokens when the folder is a ChatGLM model). BOS/EOS/PAD and whether BOS
// is added come from tokenizer_config.json, special_tokens_map.json,
// generation_config.json and config.json, in that order of preference. When
// a folder ships both files they must encode a few probe strings alike.
func Load(dir string) (*Tokenizer, error) {
	jsonPath := filepath.Join(dir, JSONFile)
	spmPath := filepath.Join(dir, SentencePieceFile)
	hasJSON, hasSPM := fileExists(jsonPath), fileExists(spmPath)
	cfg, err := readFolderConfig(dir)
	if err != nil {
		return nil, err
	}
	var t *Tokenizer
	switch {
	case hasJSON:
		if t, err = LoadJSON(jsonPath); err != nil {
			return nil, err
		}
	case hasSPM:
		if t, err = LoadSentencePiece(spmPath); err != nil {
			return nil, err
		}
		if cfg.isChatGLM() {
			t.makeChatGLM()
		} else if err := t.addConfigTokens(cfg, spmPath); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("tokenizer %s: %w", dir, ErrNoTokenizer)
	}
	t.applyConfig(cfg)
	if hasJSON && hasSPM && !cfg.isChatGLM() {
		sp, err := LoadSentencePiece(spmPath)
		if err != nil {
			return nil, err
		}
		for _, p := range probeTexts {
			a, b := t.Encode(p, false), sp.Encode(p, false)
			if !slices.Equal(a, b) {
				return nil, fmt.Errorf("tokenizer %s: %s and %s disagree on %q: %v vs %v",
					dir, JSONFile, SentencePieceFile, p, a, b)
			}
		}
	}
	return t, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// folderConfig gathers what the configuration files say about the
// tokenizer.
type folderConfig struct {
	tokenizerClass string
	autoMap        string
	modelType      string
	// token strings from tokenizer_config.json / special_tokens_map.json
	bosTok, eosTok, padTok string
	addBOS, addEOS         *bool
	// ids from generation_config.json / config.json
	genBOS, genPAD *int
	genEOS         []int
	cfgBOS, cfgPAD *int
	cfgEOS         []int
	// added_tokens_decoder of tokenizer_config.json
	addedTokens map[int]jsonAddedToken
}

func (c *folderConfig) isChatGLM() bool {
	return c.modelType == "chatglm" || strings.HasPrefix(c.tokenizerClass, chatGLMTokenizerClass) ||
		strings.Contains(c.autoMap, chatGLMTokenizationFile)
}

// tokenString reads a token given as "<s>" or {"content": "<s>", ...};
// it reports false for any other JSON value.
func tokenString(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Content, true
	}
	return "", false
}

// jsonKind names the JSON type of raw for an error message.
func jsonKind(raw json.RawMessage) string {
	switch b := bytes.TrimSpace(raw); {
	case len(b) == 0:
		return "empty"
	case b[0] == '"':
		return "a string"
	case b[0] == '{':
		return "an object"
	case b[0] == '[':
		return "an array"
	case b[0] == 't' || b[0] == 'f':
		return "a boolean"
	case b[0] == 'n':
		return "null"
	default:
		return "a number"
	}
}

// idList reads a token id given as 2 or [2, 32000].
func idList(raw json.RawMessage) []int {
	if isNull(raw) {
		return nil
	}
	var one int
	if json.Unmarshal(raw, &one) == nil {
		return []int{one}
	}
	var many []int
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}

func readJSONFile(path string) (map[string]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("tokenizer %s: not a JSON object: %w", path, err)
	}
	return m, nil
}

func readFolderConfig(dir string) (*folderConfig, error) {
	c := &folderConfig{}
	var files [4]map[string]json.RawMessage
	for i, name := range []string{TokenizerConfigFile, SpecialTokensMapFile, GenerationConfigFile, ModelConfigFile} {
		m, err := readJSONFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		files[i] = m
	}
	tc, stm, gen, mc := files[0], files[1], files[2], files[3]
	var err error
	// A field of the wrong type is refused, not read as absent: the
	// tokenizer would silently add (or not add) BOS, or pick another id.
	for _, f := range []struct {
		name string
		m    map[string]json.RawMessage
	}{{TokenizerConfigFile, tc}, {SpecialTokensMapFile, stm}} {
		for _, k := range []struct {
			key string
			dst *string
		}{{"bos_token", &c.bosTok}, {"eos_token", &c.eosTok}, {"pad_token", &c.padTok}} {
			raw := f.m[k.key]
			if raw == nil || isNull(raw) {
				continue
			}
			s, ok := tokenString(raw)
			if !ok {
				return nil, fmt.Errorf("tokenizer %s: field %q is %s, want a string or an object with \"content\"", filepath.Join(dir, f.name), k.key, jsonKind(raw))
			}
			if *k.dst == "" {
				*k.dst = s
			}
		}
	}
	boolField := func(key string) (*bool, error) {
		raw := tc[key]
		if raw == nil || isNull(raw) {
			return nil, nil
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("tokenizer %s: field %q is %s, want true or false", filepath.Join(dir, TokenizerConfigFile), key, jsonKind(raw))
		}
		return &b, nil
	}
	if c.addBOS, err = boolField("add_bos_token"); err != nil {
		return nil, err
	}
	if c.addEOS, err = boolField("add_eos_token"); err != nil {
		return nil, err
	}
	if raw := tc["tokenizer_class"]; raw != nil {
		_ = json.Unmarshal(raw, &c.tokenizerClass)
	}
	if raw := tc["auto_map"]; raw != nil {
		c.autoMap = string(raw)
	}
	if raw := tc["added_tokens_decoder"]; raw != nil {
		var m map[string]jsonAddedToken
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("tokenizer %s: added_tokens_decoder: %w", filepath.Join(dir, TokenizerConfigFile), err)
		}
		c.addedTokens = map[int]jsonAddedToken{}
		for k, v := range m {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 || id > maxTokenID {
				return nil, fmt.Errorf("tokenizer %s: added_tokens_decoder: bad id %q", filepath.Join(dir, TokenizerConfigFile), k)
			}
			v.ID = id
			c.addedTokens[id] = v
		}
	}
	if raw := mc["model_type"]; raw != nil {
		_ = json.Unmarshal(raw, &c.modelType)
	}
	if raw := mc["auto_map"]; raw != nil {
		c.autoMap += string(raw)
	}
	first := func(raw json.RawMessage) *int {
		if l := idList(raw); len(l) > 0 {
			return &l[0]
		}
		return nil
	}
	c.genBOS, c.genPAD, c.genEOS = first(gen["bos_token_id"]), first(gen["pad_token_id"]), idList(gen["eos_token_id"])
	c.cfgBOS, c.cfgPAD, c.cfgEOS = first(mc["bos_token_id"]), first(mc["pad_token_id"]), idList(mc["eos_token_id"])
	return c, nil
}

// applyConfig sets BOS/EOS/PAD, the extra stop ids and BOS/EOS adding.
func (t *Tokenizer) applyConfig(c *folderConfig) {
	pick := func(cur int, tok string, ids ...*int) int {
		if tok != "" {
			if id, ok := t.TokenToID(tok); ok {
				return id
			}
		}
		for _, p := range ids {
			if p != nil && *p >= 0 && *p < t.VocabSize() {
				return *p
			}
		}
		return cur
	}
	firstOf := func(l []int) *int {
		if len(l) > 0 {
			return &l[0]
		}
		return nil
	}
	if t.kind == "chatglm" {
		// tokenization_chatglm.py fixes these; the config files cannot change them.
		return
	}
	t.bos = pick(t.bos, c.bosTok, c.genBOS, c.cfgBOS)
	t.eos = pick(t.eos, c.eosTok, firstOf(c.genEOS), firstOf(c.cfgEOS))
	t.pad = pick(t.pad, c.padTok, c.genPAD, c.cfgPAD)
	stops := map[int]bool{}
	if t.eos >= 0 {
		stops[t.eos] = true
	}
	for _, id := range append(append([]int(nil), c.genEOS...), c.cfgEOS...) {
		if id >= 0 && id < t.VocabSize() {
			stops[id] = true
		}
	}
	t.stops = t.stops[:0]
	for id := range stops {
		t.stops = append(t.stops, id)
	}
	sort.Ints(t.stops)
	if t.kind == "sentencepiece" {
		if c.addBOS != nil {
			t.addBOS = *c.addBOS
		}
		if c.addEOS != nil {
			t.addEOS = *c.addEOS
		}
	}
}

// addConfigTokens adds the added_tokens_decoder entries of
// tokenizer_config.json that lie beyond a SentencePiece vocabulary (e.g. a
// "<pad>" added by a fine-tune); they are matched in text before encoding.
func (t *Tokenizer) addConfigTokens(c *folderConfig, path string) error {
	e, ok := t.eng.(*spmEngine)
	if !ok || len(c.addedTokens) == 0 {
		return nil
	}
	n := len(e.pieces)
	maxID := n - 1
	for id := range c.addedTokens {
		maxID = max(maxID, id)
	}
	if maxID-n > 1<<20 {
		return fmt.Errorf("tokenizer %s: added token id %d is far beyond the vocabulary", path, maxID)
	}
	var matchable []*addedToken
	e.extraSpecial = nil
	for id := n; id <= maxID; id++ {
		at, ok := c.addedTokens[id]
		content := ""
		if ok {
			content = at.Content
		}
		e.extra = append(e.extra, content)
		e.extraSpecial = append(e.extraSpecial, ok && at.Special)
		if !ok || content == "" {
			continue
		}
		t.tokToID[content] = id
		if at.Special {
			t.special[id] = true
		}
		matchable = append(matchable, &addedToken{id: id, content: content, singleWord: at.SingleWord,
			lstrip: at.LStrip, rstrip: at.RStrip, special: at.Special})
	}
	e.extraMatch = newAddedMatcher(matchable)
	t.idToTok = append(t.idToTok[:n], e.extra...)
	return nil
}

// makeChatGLM turns a SentencePiece tokenizer into ChatGLM2/3's: the special
// tokens follow the vocabulary, Encode(text, true) prepends [gMASK] sop,
// PAD is the unk id, and special-token text in the input is not split out
// (tokenization_chatglm.py encodes text with sentencepiece alone).
func (t *Tokenizer) makeChatGLM() {
	e := t.eng.(*spmEngine)
	n := len(e.pieces)
	e.extra = append([]string(nil), ChatGLMSpecialTokens...)
	e.extraSpecial = make([]bool, len(e.extra))
	t.idToTok = t.idToTok[:n]
	for i, s := range ChatGLMSpecialTokens {
		t.tokToID[s] = n + i
		t.idToTok = append(t.idToTok, s)
		t.special[n+i] = true
		e.extraSpecial[i] = true
	}
	t.kind = "chatglm"
	t.prefix = []int{n + 1, n + 3} // [gMASK], sop
	t.addBOS, t.addEOS = false, false
	t.bos = n + 3 // sop starts every sequence
	t.pad = e.unkID
	if eos := e.proto.trainer.eosID; eos >= 0 && eos < n {
		t.eos = eos
	}
	t.stops = []int{t.eos}
}

// StopIDs returns the ids that end generation: EOS and any further
// eos_token_id listed in generation_config.json or config.json.
func (t *Tokenizer) StopIDs() []int {
	if len(t.stops) == 0 && t.eos >= 0 {
		return []int{t.eos}
	}
	return append([]int(nil), t.stops...)
}
