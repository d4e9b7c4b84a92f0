package tokenizer

import (
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func mustLoad(t testing.TB, load func() (*Tokenizer, error)) *Tokenizer {
	t.Helper()
	tok, err := load()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBPEHeapMatchesReference holds the heap-based merge loop to the plain
// quadratic definition on the words of random text.
func TestBPEHeapMatchesReference(t *testing.T) {
	for _, name := range []string{"opt-bytelevel", "llama3-bytelevel"} {
		tok := mustLoad(t, func() (*Tokenizer, error) { return LoadJSON(filepath.Join(fixtureDir, name+".tokenizer.json")) })
		m := tok.eng.(*hfEngine).model.(*bpeModel)
		st := tok.getState()
		for _, w := range strings.Fields(benchTexts(20000, 3)[2]) {
			var syms []int32
			for i := 0; i < len(w); i++ {
				syms = append(syms, m.byteLevelIDs[w[i]])
			}
			want := m.bpeReference(syms)
			clear(st.bpeCache)
			got := m.finish(st, "", append([]bpeSym(nil), func() []bpeSym {
				var s []bpeSym
				for _, id := range syms {
					s = append(s, bpeSym{id: id})
				}
				return s
			}()...), nil)
			if len(got) != len(want) {
				t.Fatalf("%s %q: heap %v, reference %v", name, w, got, want)
			}
			for i := range got {
				if int32(got[i]) != want[i] {
					t.Fatalf("%s %q: heap %v, reference %v", name, w, got, want)
				}
			}
		}
	}
}

// TestBPESpaceChunksMatchWhole holds the chunked BPE path of a LLaMA-style
// tokenizer.json to the encoding of the whole text as one word.
func TestBPESpaceChunksMatchWhole(t *testing.T) {
	tok := mustLoad(t, func() (*Tokenizer, error) { return LoadJSON(filepath.Join("testdata", "llama2-hf.tokenizer.json")) })
	m := tok.eng.(*hfEngine).model.(*bpeModel)
	if !m.spaceChunks {
		t.Fatal("LLaMA-2 tokenizer.json should be chunkable")
	}
	for _, text := range benchTexts(5000, 5) {
		a := tok.Encode(text, false)
		m.spaceChunks = false
		b := tok.Encode(text, false)
		m.spaceChunks = true
		if !slices.Equal(a, b) {
			t.Fatalf("chunked and whole encodings differ on %q", text)
		}
	}
}

func TestLossyUTF8(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte("plain"), "plain"},
		{[]byte{0xFF}, "\uFFFD"},
		{[]byte{0xE4, 0xB8}, "\uFFFD"},                   // truncated 3-byte sequence: one U+FFFD
		{[]byte{0xE4, 0xB8, 'a'}, "\uFFFDa"},             // maximal subpart, then 'a'
		{[]byte{0xF0, 0x9F, 0x98}, "\uFFFD"},             // truncated emoji
		{[]byte{0xC0, 0x80}, "\uFFFD\uFFFD"},             // overlong: each byte
		{[]byte{0xED, 0xA0, 0x80}, "\uFFFD\uFFFD\uFFFD"}, // surrogate
		{[]byte{0xF4, 0x90, 0x80, 0x80}, "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{[]byte{'a', 0x80, 'b'}, "a\uFFFDb"},
	}
	for _, tc := range tests {
		if got := lossyUTF8(tc.in); got != tc.want {
			t.Errorf("lossyUTF8(% x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSplitBehaviors uses the examples of the reference's own unit tests
// (NormalizedString::split).
func TestSplitBehaviors(t *testing.T) {
	s := "The-final--countdown"
	dashes := runeMatches(s, func(r rune) bool { return r == '-' }, nil)
	tests := []struct {
		beh  splitBehavior
		want []string
	}{
		{behRemoved, []string{"The", "final", "countdown"}},
		{behIsolated, []string{"The", "-", "final", "-", "-", "countdown"}},
		{behMergedWithPrevious, []string{"The-", "final-", "-", "countdown"}},
		{behMergedWithNext, []string{"The", "-final", "-", "-countdown"}},
		{behContiguous, []string{"The", "-", "final", "--", "countdown"}},
	}
	for _, tc := range tests {
		var got []string
		for _, p := range splitSpans(piece{s: s}, dashes, false, tc.beh, nil) {
			got = append(got, p.s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("behavior %d: %q, want %q", tc.beh, got, tc.want)
		}
	}
}

func TestDecoders(t *testing.T) {
	tests := []struct {
		name string
		d    decoder
		in   []string
		want string
	}{
		{"byte fallback", byteFallbackDec{}, []string{"a", "<0xE2>", "<0x82>", "<0xAC>", "b", "<0xFF>", "<0x41>"}, "a€b\uFFFD\uFFFD"},
		{"metaspace first token", metaspaceDec{repl: '▁', scheme: prependAlways}, []string{"▁Hey", "▁friend"}, "Hey friend"},
		{"metaspace never", metaspaceDec{repl: '▁', scheme: prependNever}, []string{"▁Hey", "▁friend"}, " Hey friend"},
		{"strip", stripDec{content: ' ', start: 1, stop: 1}, []string{"  a  ", "b", " "}, " a b"},
		{"wordpiece", wordPieceDec{prefix: "##", cleanup: true}, []string{"I", "can", "##not", "go", "."}, "I cannot go."},
		{"bpe suffix", bpeDec{suffix: "</w>"}, []string{"hel", "lo</w>", "world</w>"}, "hello world"},
		{"byte level", byteLevelDec{}, []string{"Hello", "Ġworld", "Ċ"}, "Hello world\n"},
		{"ctc", ctcDec{pad: "<pad>", delim: "|", cleanup: true}, []string{"h", "h", "<pad>", "i", "|", "x"}, "hi x"},
		{"sequence", seqDec{replaceDec{m: literalMatcher("▁"), content: " "}, byteFallbackDec{}, fuseDec{}, stripDec{content: ' ', start: 1}},
			[]string{"▁Hello", "▁wor", "<0x6C>", "d"}, "Hello world"},
	}
	for _, tc := range tests {
		if got := strings.Join(tc.d.decodeChain(tc.in), ""); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNormalizers(t *testing.T) {
	re, err := compileMatcher(" {2,}", false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n    normalizer
		in   string
		want string
	}{
		{"nfkc", unicodeNorm{norm.NFKC}, "ｆｉ ﬁ ①", "fi fi 1"},
		{"nfd+strip accents", seqNorm{unicodeNorm{norm.NFD}, stripAccentsNorm{}}, "café", "cafe"},
		{"strip accents: all marks", stripAccentsNorm{}, "a\u0903b\u20DDc\u0301d", "abcd"}, // as the reference
		{"lowercase", lowercaseNorm{}, "HeLLo İ ΣΑΣ", "hello i̇ σασ"},
		{"strip", stripNorm{left: true, right: true}, " \t x y \n", "x y"},
		{"replace regex", replaceNorm{m: re, content: " "}, "a   b  c d", "a b c d"},
		{"prepend", prependNorm{"▁"}, "x", "▁x"},
		{"prepend empty", prependNorm{"▁"}, "", ""},
		{"bert", bertNorm{cleanText: true, chineseChars: true, stripAccents: true, lowercase: true}, "Héllo\t中文\x00!", "hello  中  文 !"},
		{"nmt", nmtNorm{}, "a\x01b\tc\u200bd", "ab c d"},
	}
	for _, tc := range tests {
		if got := tc.n.normalize(tc.in); got != tc.want {
			t.Errorf("%s(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestAddedTokenOptions(t *testing.T) {
	toks := []*addedToken{
		{id: 1, content: "<mask>", lstrip: true},
		{id: 2, content: "[X]", singleWord: true},
		{id: 3, content: "<e>", rstrip: true},
		{id: 4, content: "<e>>"},
	}
	m := newAddedMatcher(toks)
	tests := []struct {
		in   string
		want []string // "#id" for added tokens
	}{
		{"a  <mask> b", []string{"a", "#1", " b"}},
		{"a[X] [X] b", []string{"a[X] ", "#2", " b"}},
		{"<e>  x<e>>y", []string{"#3", "x", "#4", "y"}},
	}
	for _, tc := range tests {
		var got []string
		for _, sg := range m.split(piece{s: tc.in, first: true}, nil) {
			if sg.id >= 0 {
				got = append(got, "#"+string(rune('0'+sg.id)))
			} else {
				got = append(got, sg.s)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRoundTrip checks decode(encode(s)) == s for lossless tokenizers
// (byte-level BPE, byte-fallback BPE) on random valid UTF-8.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, bt := range benchTokenizers {
		if bt.name == "unigram-spm" {
			continue // nmt_nfkc normalization is lossy
		}
		t.Run(bt.name, func(t *testing.T) {
			tok := mustLoad(t, bt.load)
			texts := append(benchTexts(3000, 3), "", " ", "  x  ", "\n\t\r\n", "\x00\x01\x7f", "🇺🇸👨‍👩‍👧", "\uFFFD")
			for i := 0; i < 300; i++ {
				b := make([]byte, r.Intn(24))
				for k := range b {
					b[k] = byte(r.Intn(256))
				}
				texts = append(texts, strings.ToValidUTF8(string(b), "?"), randomText(r, r.Intn(30)))
			}
			for _, s := range texts {
				if got := tok.Decode(tok.Encode(s, false), false); got != s {
					t.Fatalf("Decode(Encode(%q)) = %q", s, got)
				}
			}
		})
	}
}

func TestEncodeBatchMatchesEncode(t *testing.T) {
	tok := mustLoad(t, benchTokenizers[1].load)
	docs := benchTexts(2000, 40)
	batch := tok.EncodeBatch(docs, true)
	for i, d := range docs {
		if !slices.Equal(batch[i], tok.Encode(d, true)) {
			t.Fatalf("EncodeBatch[%d] differs from Encode", i)
		}
	}
	if got := tok.EncodeBatch(nil, true); len(got) != 0 {
		t.Errorf("EncodeBatch(nil) = %v", got)
	}
}

func TestInvalidUTF8Input(t *testing.T) {
	tok := mustLoad(t, benchTokenizers[0].load)
	// Invalid bytes are read as U+FFFD, as Python's errors="replace" would.
	got := tok.Encode("a\xffb", false)
	want := tok.Encode("a\uFFFDb", false)
	if !slices.Equal(got, want) {
		t.Errorf("Encode(a\\xffb) = %v, want %v", got, want)
	}
}

// FuzzEncode encodes arbitrary strings with every fixture tokenizer: no
// panic, ids within the vocabulary, and the round trip for valid UTF-8 on
// the lossless ones.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"Hello world", "  \n\t", "<s></s><unk>", "<|begin_of_text|>x", "😀\u0301é", "\xff\xfe"} {
		f.Add(s)
	}
	var toks []*Tokenizer
	for _, bt := range benchTokenizers {
		toks = append(toks, mustLoad(f, bt.load))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, tok := range toks {
			ids := tok.Encode(s, true)
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() {
					t.Fatalf("%s: id %d outside the vocabulary", benchTokenizers[i].name, id)
				}
			}
			d := tok.Decode(tok.Encode(s, false), false)
			// Text after an added token gets LLaMA's dummy-prefix space in
			// the reference too, so the round trip is checked without them.
			if benchTokenizers[i].name != "unigram-spm" && utf8.ValidString(s) && !hasAddedToken(tok, s) && d != s {
				t.Fatalf("%s: Decode(Encode(%q)) = %q", benchTokenizers[i].name, s, d)
			}
		}
	})
}

// FuzzParseJSON feeds arbitrary bytes to the tokenizer.json parser,
// seeded with a small copy of every fixture (fixtureSeeds); what loads must
// encode and decode without panicking.
func FuzzParseJSON(f *testing.F) {
	for _, data := range fixtureSeeds(f, "*.tokenizer.json", shrinkJSON, ParseJSON) {
		f.Add(data)
	}
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?=b)"}, "behavior": "MergedWithNext"}}`))
	f.Add([]byte(`{"model": {"type": "Unigram", "vocab": [["<unk>", 0], ["a", -1]], "unk_id": 0}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "AAAA"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseJSON(data)
		if err != nil {
			return
		}
		for _, s := range []string{"Hello world!", " a  b\n", "ab ba", "é😀"} {
			ids := tok.Encode(s, true)
			tok.Decode(ids, true)
			tok.Decode(ids, false)
		}
	})
}

// FuzzParseSentencePiece feeds arbitrary bytes to the SentencePiece
// loader, seeded with small synthetic models (spmVariants), a small copy of
// every fixture model (fixtureSeeds) and truncations.
func FuzzParseSentencePiece(f *testing.F) {
	seeds := append(spmVariants(), testSPMModel().marshal())
	seeds = append(seeds, fixtureSeeds(f, "*.tokenizer.model", shrinkSPM, ParseSentencePiece)...)
	for _, data := range seeds {
		f.Add(data)
		f.Add(data[:len(data)/3])
	}
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x01, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseSentencePiece(data)
		if err != nil {
			return
		}
		for _, s := range []string{"Hello world!", "  a  b\n", "é😀"} {
			ids := tok.Encode(s, true)
			tok.Decode(ids, true)
		}
	})
}

// hasAddedToken reports whether s contains the text of a special token that
// a tokenizer.json splits out of the input.
func hasAddedToken(tok *Tokenizer, s string) bool {
	if tok.Kind() != "tokenizer.json" {
		return false
	}
	for _, id := range tok.SpecialTokens() {
		if strings.Contains(s, tok.IDToToken(id)) {
			return true
		}
	}
	return false
}
