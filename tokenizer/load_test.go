package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var modelsDir = filepath.Join("..", "testdata")

func TestLoadFixtureFolders(t *testing.T) {
	tests := []struct {
		dir           string
		kind          string
		bos, eos, pad int // -1: none
		addsBOS       bool
		vocab         int
	}{
		{"llama2-tiny", "sentencepiece", 1, 2, -1, true, 32000},
		{"llama3-tiny", "tokenizer.json", 0, 1, -1, true, 4000},
		{"opt-tiny", "tokenizer.json", 2, 2, 1, true, 4000}, // OPT starts with </s>, its BOS
		{"opt350-tiny", "tokenizer.json", 2, 2, 1, true, 4000},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			tok, err := Load(filepath.Join(modelsDir, tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if tok.Kind() != tc.kind {
				t.Errorf("Kind = %q, want %q", tok.Kind(), tc.kind)
			}
			check := func(name string, got int, ok bool, want int) {
				if want < 0 {
					if ok {
						t.Errorf("%s = %d, want none", name, got)
					}
					return
				}
				if !ok || got != want {
					t.Errorf("%s = %d (%v), want %d", name, got, ok, want)
				}
			}
			b, ok := tok.BOS()
			check("BOS", b, ok, tc.bos)
			e, ok := tok.EOS()
			check("EOS", e, ok, tc.eos)
			p, ok := tok.PAD()
			check("PAD", p, ok, tc.pad)
			if tok.AddsBOS() != tc.addsBOS {
				t.Errorf("AddsBOS = %v, want %v", tok.AddsBOS(), tc.addsBOS)
			}
			if tok.VocabSize() != tc.vocab {
				t.Errorf("VocabSize = %d, want %d", tok.VocabSize(), tc.vocab)
			}
			if got := tok.StopIDs(); !slices.Contains(got, tc.eos) {
				t.Errorf("StopIDs = %v, want it to hold EOS %d", got, tc.eos)
			}
			// Round trip through the folder's tokenizer.
			const text = "Hello world, this is gollm."
			if got := tok.Decode(tok.Encode(text, true), true); got != text {
				t.Errorf("Decode(Encode(%q)) = %q", text, got)
			}
		})
	}
}

func TestLoadNoTokenizer(t *testing.T) {
	_, err := Load(filepath.Join(modelsDir, "chatglm3-tiny"))
	if !errors.Is(err, ErrNoTokenizer) {
		t.Fatalf("Load(chatglm3-tiny) = %v, want ErrNoTokenizer", err)
	}
	if !strings.Contains(err.Error(), "chatglm3-tiny") {
		t.Errorf("error %q does not name the folder", err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfigFiles(t *testing.T) {
	llama := filepath.Join(fixtureDir, "llama2.tokenizer.model")
	tests := []struct {
		name     string
		files    map[string]string
		bos, eos int
		pad      int
		addBOS   bool
		stops    []int
	}{
		{"defaults from the model", nil, 1, 2, -1, true, []int{2}},
		{"tokenizer_config strings and flags",
			map[string]string{TokenizerConfigFile: `{"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>", "pad_token": "<unk>", "add_bos_token": false, "add_eos_token": true}`},
			1, 2, 0, false, []int{2}},
		{"special_tokens_map",
			map[string]string{SpecialTokensMapFile: `{"pad_token": "</s>"}`},
			1, 2, 2, true, []int{2}},
		{"generation_config lists several eos ids",
			map[string]string{GenerationConfigFile: `{"bos_token_id": 1, "eos_token_id": [2, 13], "pad_token_id": 0}`},
			1, 2, 0, true, []int{2, 13}},
		{"config.json ids", map[string]string{ModelConfigFile: `{"pad_token_id": 3, "eos_token_id": 2}`},
			1, 2, 3, true, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, llama, filepath.Join(dir, SentencePieceFile))
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			tok, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := tok.BOS(); b != tc.bos {
				t.Errorf("BOS = %d, want %d", b, tc.bos)
			}
			if e, _ := tok.EOS(); e != tc.eos {
				t.Errorf("EOS = %d, want %d", e, tc.eos)
			}
			if p, ok := tok.PAD(); (tc.pad < 0 && ok) || (tc.pad >= 0 && p != tc.pad) {
				t.Errorf("PAD = %d, %v; want %d", p, ok, tc.pad)
			}
			ids := tok.Encode("Hi", true)
			if (ids[0] == 1) != tc.addBOS {
				t.Errorf("Encode(Hi, true) = %v, addBOS want %v", ids, tc.addBOS)
			}
			if tc.files[TokenizerConfigFile] != "" && ids[len(ids)-1] != 2 {
				t.Errorf("Encode(Hi, true) = %v, want EOS appended", ids)
			}
			if got := tok.StopIDs(); !slices.Equal(got, tc.stops) {
				t.Errorf("StopIDs = %v, want %v", got, tc.stops)
			}
		})
	}
}

func TestLoadAddedTokensDecoder(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(fixtureDir, "llama2.tokenizer.model"), filepath.Join(dir, SentencePieceFile))
	writeFile(t, filepath.Join(dir, TokenizerConfigFile), `{"added_tokens_decoder": {
		"0": {"content": "<unk>", "special": true},
		"32000": {"content": "<pad>", "special": true},
		"32001": {"content": "<extra>", "special": false}}}`)
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 32002 {
		t.Fatalf("VocabSize = %d, want 32002", tok.VocabSize())
	}
	if id, ok := tok.TokenToID("<pad>"); !ok || id != 32000 {
		t.Errorf("TokenToID(<pad>) = %d, %v", id, ok)
	}
	got := tok.Encode("a<pad>b<extra>", false)
	plainA, plainB := tok.Encode("a", false), tok.Encode("b", false)
	want := append(append(append(append([]int{}, plainA...), 32000), plainB...), 32001)
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if d := tok.Decode(got, true); d != "ab<extra>" {
		t.Errorf("Decode(skip) = %q", d)
	}
	if d := tok.Decode(got, false); d != "a<pad>b<extra>" {
		t.Errorf("Decode = %q", d)
	}
}

func TestLoadBothFilesMustAgree(t *testing.T) {
	// A LLaMA-2 folder whose tokenizer.json is not the LLaMA-2 tokenizer.
	dir := t.TempDir()
	copyFile(t, filepath.Join(fixtureDir, "llama2.tokenizer.model"), filepath.Join(dir, SentencePieceFile))
	copyFile(t, filepath.Join(fixtureDir, "opt-bytelevel.tokenizer.json"), filepath.Join(dir, JSONFile))
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("Load = %v, want a disagreement error", err)
	}
	// The converted LLaMA-2 tokenizer.json agrees with the SentencePiece model.
	conv := filepath.Join("testdata", "llama2-hf.tokenizer.json")
	if _, err := os.Stat(conv); err != nil {
		t.Skip("no converted LLaMA-2 tokenizer.json")
	}
	copyFile(t, conv, filepath.Join(dir, JSONFile))
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind() != "tokenizer.json" {
		t.Errorf("Kind = %q, want tokenizer.json first", tok.Kind())
	}
}

func TestLoadBadFiles(t *testing.T) {
	llamaModel, err := os.ReadFile(filepath.Join(fixtureDir, "llama2.tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, content string
		want                string
	}{
		{"not JSON", JSONFile, "this is not json", "not a valid tokenizer.json"},
		{"unknown model type", JSONFile, `{"model": {"type": "Magic", "vocab": {}}}`, `unknown model type "Magic"`},
		{"merge refers to a missing token", JSONFile,
			`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a c"]}}`, `token "c" missing`},
		{"merge produces a missing token", JSONFile,
			`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}}`, `produces token "ab"`},
		{"bad regex", JSONFile,
			`{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, "regex"},
		{"unknown pre-tokenizer", JSONFile,
			`{"pre_tokenizer": {"type": "Nope"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, `unsupported pre-tokenizer type "Nope"`},
		{"unknown decoder in a Sequence", JSONFile,
			`{"decoder": {"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "Nope"}]}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, `item 1 of Sequence: unsupported decoder type "Nope"`},
		{"unknown post-processor", JSONFile,
			`{"post_processor": {"type": "Nope"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, `unsupported post-processor type "Nope"`},
		{"normalizer without type", JSONFile,
			`{"normalizer": {"type": "Sequence", "normalizers": [{}]}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, "missing type"},
		{"Sequence list not a list", JSONFile,
			`{"pre_tokenizer": {"type": "Sequence", "pretokenizers": {}}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, "type Sequence: pretokenizers"},
		{"Sequence nested too deeply", JSONFile,
			`{"normalizer": ` + strings.Repeat(`{"type": "Sequence", "normalizers": [`, 70) + `{"type": "NFC"}` + strings.Repeat(`]}`, 70) + `, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, "nested too deeply"},
		{"Metaspace decoder scheme contradicts add_prefix_space", JSONFile,
			`{"decoder": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": false, "prepend_scheme": "always"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, "add_prefix_space does not match declared prepend_scheme"},
		{"Replace normalizer without pattern", JSONFile,
			`{"normalizer": {"type": "Replace", "content": "x"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`, "type Replace: pattern has neither"},
		{"no model", JSONFile, `{"version": "1.0"}`, "no model"},
		{"added token id huge", JSONFile,
			`{"added_tokens": [{"id": 1000000000000, "content": "<x>", "special": true}], "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`, "id 1000000000000 out of range"},
		{"added token id negative", JSONFile,
			`{"added_tokens": [{"id": -1, "content": "<x>"}], "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`, "id -1 out of range"},
		{"truncated protobuf", SentencePieceFile, string(llamaModel[:len(llamaModel)/2]), "truncated"},
		{"garbage protobuf", SentencePieceFile, "\xff\xff\xff", "not a SentencePiece model"},
		{"empty protobuf", SentencePieceFile, "", "no pieces"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			writeFile(t, path, tc.content)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	t.Run("bad config file", func(t *testing.T) {
		dir := t.TempDir()
		copyFile(t, filepath.Join(fixtureDir, "opt-bytelevel.tokenizer.json"), filepath.Join(dir, JSONFile))
		path := filepath.Join(dir, GenerationConfigFile)
		writeFile(t, path, "{")
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Load = %v, want an error naming %s", err, path)
		}
	})
	// Fields of the wrong type are refused, naming the file and field.
	for _, tc := range []struct{ name, file, content, want string }{
		{"add_bos_token string", TokenizerConfigFile, `{"add_bos_token": "yes"}`, `field "add_bos_token" is a string, want true or false`},
		{"add_eos_token number", TokenizerConfigFile, `{"add_eos_token": 1}`, `field "add_eos_token" is a number`},
		{"bos_token number", TokenizerConfigFile, `{"bos_token": 5}`, `field "bos_token" is a number`},
		{"eos_token array", SpecialTokensMapFile, `{"eos_token": ["</s>"]}`, `field "eos_token" is an array`},
		{"pad_token content number", TokenizerConfigFile, `{"pad_token": {"content": 3}}`, `field "pad_token" is an object`},
		{"added_tokens_decoder id huge", TokenizerConfigFile, `{"added_tokens_decoder": {"99999999999": {"content": "<x>"}}}`, `bad id "99999999999"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, filepath.Join(fixtureDir, "opt-bytelevel.tokenizer.json"), filepath.Join(dir, JSONFile))
			path := filepath.Join(dir, tc.file)
			writeFile(t, path, tc.content)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error naming %s and saying %q", err, path, tc.want)
			}
		})
	}
	// Null and the object form are valid.
	dir := t.TempDir()
	copyFile(t, filepath.Join(fixtureDir, "opt-bytelevel.tokenizer.json"), filepath.Join(dir, JSONFile))
	writeFile(t, filepath.Join(dir, TokenizerConfigFile), `{"add_bos_token": null, "bos_token": {"content": "</s>"}, "pad_token": null}`)
	if _, err := Load(dir); err != nil {
		t.Fatalf("null fields and the object form: %v", err)
	}
}

func ExampleLoad() {
	tok, err := Load(filepath.Join("..", "testdata", "llama2-tiny"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("Hello world", true)
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Decode(ids, true))
	// Output:
	// [1 15043 3186]
	// "Hello world"
}
