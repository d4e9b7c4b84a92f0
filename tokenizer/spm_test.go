package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// testSPMModel builds a small SentencePiece BPE model: <unk> <s> </s>, the
// 256 byte pieces, a user-defined symbol and pieces for "hello world".
func testSPMModel() *spmModelProto {
	m := &spmModelProto{
		trainer: spmTrainerSpec{modelType: spmBPE, byteFallback: true, unkID: 0, bosID: 1, eosID: 2, pad: -1,
			unkSurface: " \u2047 "},
		normalizer: spmNormalizerSpec{name: "identity", addDummyPrefix: true, escapeWhitespaces: true},
	}
	m.pieces = append(m.pieces, spmPiece{"<unk>", 0, spmUnknown}, spmPiece{"<s>", 0, spmControl}, spmPiece{"</s>", 0, spmControl})
	for b := 0; b < 256; b++ {
		m.pieces = append(m.pieces, spmPiece{fmt.Sprintf("<0x%02X>", b), 0, spmByte})
	}
	m.pieces = append(m.pieces, spmPiece{"<|u|>", 0, spmUserDefined})
	normal := []string{"▁h", "ll", "▁he", "llo", "▁hello", "▁w", "or", "▁wor", "ld", "▁world", "so", "sop",
		"▁", "h", "e", "l", "o", "w", "r", "d", "s", "p", "▁s", "▁sop"}
	for i, p := range normal {
		m.pieces = append(m.pieces, spmPiece{p, float32(-i), spmNormal})
	}
	return m
}

func writeModelDir(t *testing.T, m *spmModelProto, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SentencePieceFile), m.marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		writeFile(t, filepath.Join(dir, ModelConfigFile), config)
	}
	return dir
}

func TestSPMSyntheticBPE(t *testing.T) {
	tok, err := ParseSentencePiece(testSPMModel().marshal())
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) int {
		v, ok := tok.TokenToID(s)
		if !ok {
			t.Fatalf("no piece %q", s)
		}
		return v
	}
	tests := []struct {
		in   string
		want []int
	}{
		{"hello world", []int{id("▁hello"), id("▁world")}},
		{"hello<|u|>world", []int{id("▁hello"), id("<|u|>"), id("w"), id("or"), id("ld")}},
		{"he\x01", []int{id("▁he"), id("<0x01>")}},
		{"hé", []int{id("▁h"), id("<0xC3>"), id("<0xA9>")}},
		{"  sop", []int{id("▁"), id("▁"), id("▁sop")}},
		{"", nil},
	}
	for _, tc := range tests {
		got := tok.Encode(tc.in, false)
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Encode(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if d := tok.Decode(got, true); d != tc.in {
			t.Errorf("Decode(Encode(%q)) = %q", tc.in, d)
		}
	}
}

func TestChatGLM(t *testing.T) {
	dir := writeModelDir(t, testSPMModel(), `{"model_type": "chatglm", "eos_token_id": 2, "pad_token_id": 0}`)
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := len(testSPMModel().pieces)
	if tok.Kind() != "chatglm" {
		t.Fatalf("Kind = %q", tok.Kind())
	}
	if tok.VocabSize() != n+len(ChatGLMSpecialTokens) {
		t.Errorf("VocabSize = %d, want %d", tok.VocabSize(), n+len(ChatGLMSpecialTokens))
	}
	for i, s := range ChatGLMSpecialTokens {
		if id, ok := tok.TokenToID(s); !ok || id != n+i {
			t.Errorf("TokenToID(%q) = %d, %v; want %d", s, id, ok, n+i)
		}
		if tok.IDToToken(n+i) != s || !tok.IsSpecial(n+i) {
			t.Errorf("id %d: token %q special %v", n+i, tok.IDToToken(n+i), tok.IsSpecial(n+i))
		}
	}
	gmask, sop := n+1, n+3
	plain := tok.Encode("hello world", false)
	if got := tok.Encode("hello world", true); !slices.Equal(got, append([]int{gmask, sop}, plain...)) {
		t.Errorf("Encode(hello world, true) = %v, want [gMASK] sop %v", got, plain)
	}
	// "sop" in text is ordinary text for SPTokenizer.encode.
	if got := tok.Encode("sop", false); slices.Contains(got, sop) {
		t.Errorf("Encode(sop) = %v contains the special sop id", got)
	}
	ids := append([]int{gmask, sop}, plain...)
	if d := tok.Decode(ids, false); d != "[gMASK]sophello world" {
		t.Errorf("Decode = %q", d)
	}
	if d := tok.Decode(ids, true); d != "hello world" {
		t.Errorf("Decode(skip) = %q", d)
	}
	if b, _ := tok.BOS(); b != sop {
		t.Errorf("BOS = %d, want sop %d", b, sop)
	}
	if e, _ := tok.EOS(); e != 2 {
		t.Errorf("EOS = %d, want 2", e)
	}
	if p, _ := tok.PAD(); p != 0 {
		t.Errorf("PAD = %d, want 0 (unk)", p)
	}
	// tokenizer_config.json naming the class is enough, too.
	dir2 := writeModelDir(t, testSPMModel(), "")
	writeFile(t, filepath.Join(dir2, TokenizerConfigFile), `{"tokenizer_class": "ChatGLMTokenizer", "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", null]}}`)
	tok2, err := Load(dir2)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.Kind() != "chatglm" {
		t.Errorf("Kind = %q, want chatglm", tok2.Kind())
	}
}

func TestSPMModelErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *spmModelProto)
		want   string
	}{
		{"no unk", func(m *spmModelProto) { m.pieces[0].typ = spmNormal }, "unk is not defined"},
		{"duplicate piece", func(m *spmModelProto) { m.pieces[len(m.pieces)-1].piece = "▁h" }, "defined twice"},
		{"empty piece", func(m *spmModelProto) { m.pieces[5].piece = "" }, "empty"},
		{"byte piece without byte_fallback", func(m *spmModelProto) { m.trainer.byteFallback = false }, "byte_fallback is false"},
		{"word model", func(m *spmModelProto) { m.trainer.modelType = spmWord }, "not supported"},
		{"bad charsmap", func(m *spmModelProto) { m.normalizer.charsmap = []byte{9, 9, 9, 9, 1} }, "charsmap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testSPMModel()
			tc.mutate(m)
			_, err := ParseSentencePiece(m.marshal())
			if err == nil || !containsStr(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestSPMChunkingMatchesWhole holds the chunked BPE encoder (cut before
// each word's ▁, cached) to the plain encoder over the whole text.
func TestSPMChunkingMatchesWhole(t *testing.T) {
	tok, err := LoadSentencePiece(filepath.Join(fixtureDir, "llama2.tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	e := tok.eng.(*spmEngine)
	if !e.chunkable {
		t.Fatal("the LLaMA-2 model should be chunkable")
	}
	st := tok.getState()
	for _, text := range benchTexts(20000, 7) {
		a := tok.Encode(text, false)
		e.chunkable = false
		b := e.encode(st, text, nil)
		e.chunkable = true
		if !slices.Equal(a, b) {
			t.Fatalf("chunked and whole encodings differ on %q", text)
		}
	}
}
