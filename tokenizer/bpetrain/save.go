package bpetrain

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"

	"github.com/llmcbench/gollm/tokenizer"
)

// ModelMaxLength is the model_max_length written to tokenizer_config.json:
// the longest input the tokenizer is declared for (the reference models'
// own context is in their config.json).
const ModelMaxLength = 2048

// The JSON documents, with fields in Hugging Face's order.

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type byteLevel struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	TrimOffsets    bool   `json:"trim_offsets"`
	UseRegex       bool   `json:"use_regex"`
}

type templateSpecial struct {
	SpecialToken struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"SpecialToken"`
}

type templateSequence struct {
	Sequence struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"Sequence"`
}

type templateProcessing struct {
	Type          string                     `json:"type"`
	Single        []any                      `json:"single"`
	Pair          []any                      `json:"pair"`
	SpecialTokens map[string]templateTokenID `json:"special_tokens"`
}

type templateTokenID struct {
	ID     string   `json:"id"`
	IDs    []int    `json:"ids"`
	Tokens []string `json:"tokens"`
}

type bpeModel struct {
	Type                    string       `json:"type"`
	Dropout                 *float64     `json:"dropout"`
	UnkToken                *string      `json:"unk_token"`
	ContinuingSubwordPrefix *string      `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string      `json:"end_of_word_suffix"`
	FuseUnk                 bool         `json:"fuse_unk"`
	ByteFallback            bool         `json:"byte_fallback"`
	IgnoreMerges            bool         `json:"ignore_merges"`
	Vocab                   orderedVocab `json:"vocab"`
	Merges                  [][2]string  `json:"merges"`
}

type tokenizerJSON struct {
	Version       string             `json:"version"`
	Truncation    any                `json:"truncation"`
	Padding       any                `json:"padding"`
	AddedTokens   []addedToken       `json:"added_tokens"`
	Normalizer    any                `json:"normalizer"`
	PreTokenizer  byteLevel          `json:"pre_tokenizer"`
	PostProcessor templateProcessing `json:"post_processor"`
	Decoder       byteLevel          `json:"decoder"`
	Model         bpeModel           `json:"model"`
}

// orderedVocab is the vocabulary as a JSON object in id order (Hugging
// Face writes it so; a Go map would come out sorted by token).
type orderedVocab []string

// MarshalJSON writes {"token": id, ...} in id order.
func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for id, tok := range v {
		if id > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal encodes v as JSON without HTML escaping ("<|...|>" stays
// readable), with a two-space indent and a final newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func (m *Model) addedTokens() []addedToken {
	out := make([]addedToken, len(SpecialTokens))
	for i, s := range SpecialTokens {
		out[i] = addedToken{ID: i, Content: s, Special: true}
	}
	return out
}

// TokenizerJSON returns the tokenizer.json document: the BPE model, the
// ByteLevel pre-tokenizer (GPT-2 regex, with a prefix space when
// m.AddPrefixSpace is set) and decoder, the
// special tokens as added tokens, and a TemplateProcessing post-processor
// that puts BOS before each sequence (LLaMA-3's).
func (m *Model) TokenizerJSON() ([]byte, error) {
	bos := func() any {
		var s templateSpecial
		s.SpecialToken.ID = BOS
		return s
	}
	seq := func(id string) any {
		var s templateSequence
		s.Sequence.ID = id
		return s
	}
	doc := tokenizerJSON{
		Version:      "1.0",
		AddedTokens:  m.addedTokens(),
		PreTokenizer: byteLevel{Type: "ByteLevel", AddPrefixSpace: m.AddPrefixSpace, TrimOffsets: true, UseRegex: true},
		PostProcessor: templateProcessing{
			Type:          "TemplateProcessing",
			Single:        []any{bos(), seq("A")},
			Pair:          []any{bos(), seq("A"), bos(), seq("B")},
			SpecialTokens: map[string]templateTokenID{BOS: {ID: BOS, IDs: []int{0}, Tokens: []string{BOS}}},
		},
		Decoder: byteLevel{Type: "ByteLevel", AddPrefixSpace: true, TrimOffsets: true, UseRegex: true},
		Model:   bpeModel{Type: "BPE", Vocab: m.Vocab, Merges: m.Merges},
	}
	if doc.Model.Merges == nil {
		doc.Model.Merges = [][2]string{}
	}
	return marshal(doc)
}

// Tokenizer returns the trained tokenizer as package tokenizer reads it:
// the TokenizerJSON document, parsed (no files written).
func (m *Model) Tokenizer() (*tokenizer.Tokenizer, error) {
	doc, err := m.TokenizerJSON()
	if err != nil {
		return nil, err
	}
	return tokenizer.ParseJSON(doc)
}

// TokenizerConfigJSON returns tokenizer_config.json: BOS and EOS, BOS
// added (by the post-processor), no EOS added, the added tokens and
// ModelMaxLength.
func (m *Model) TokenizerConfigJSON() ([]byte, error) {
	decoder := map[string]addedToken{}
	for _, t := range m.addedTokens() {
		decoder[strconv.Itoa(t.ID)] = t
	}
	return marshal(struct {
		AddBOS                    bool                  `json:"add_bos_token"`
		AddEOS                    bool                  `json:"add_eos_token"`
		AddedTokensDecoder        map[string]addedToken `json:"added_tokens_decoder"`
		BOS                       string                `json:"bos_token"`
		CleanUpTokenizationSpaces bool                  `json:"clean_up_tokenization_spaces"`
		EOS                       string                `json:"eos_token"`
		ModelInputNames           []string              `json:"model_input_names"`
		ModelMaxLength            int                   `json:"model_max_length"`
		TokenizerClass            string                `json:"tokenizer_class"`
	}{true, false, decoder, BOS, false, EOS, []string{"input_ids", "attention_mask"}, ModelMaxLength, "PreTrainedTokenizerFast"})
}

// SpecialTokensMapJSON returns special_tokens_map.json (BOS and EOS).
func (m *Model) SpecialTokensMapJSON() ([]byte, error) {
	return marshal(map[string]string{"bos_token": BOS, "eos_token": EOS})
}

// Save writes tokenizer.json, tokenizer_config.json and
// special_tokens_map.json into the folder dir, which must exist.
func (m *Model) Save(dir string) error {
	for _, f := range []struct {
		name string
		doc  func() ([]byte, error)
	}{
		{tokenizer.JSONFile, m.TokenizerJSON},
		{tokenizer.TokenizerConfigFile, m.TokenizerConfigJSON},
		{tokenizer.SpecialTokensMapFile, m.SpecialTokensMapJSON},
	} {
		b, err := f.doc()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
