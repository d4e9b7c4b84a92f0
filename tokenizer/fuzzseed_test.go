package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The fuzz seeds are small copies of the fixture tokenizers: every
// structure of the real files (normalizers, pre-tokenizers, post-processor,
// decoder, added tokens, trainer and normalizer specs) with the vocabulary
// cut to a few dozen entries and the precompiled charsmaps replaced by a
// one-rule one. A whole fixture (10 KB to 1.5 MB) as a seed makes each
// minimization step of a new input cost as much as parsing it, and the
// fuzzer spends its budget there instead of executing inputs.

// seedVocab is how many vocabulary entries (by id) a seed keeps, besides
// the tokens its merges, added tokens and unk need. A seed keeps the ids
// of the fixture, and the loader sizes its id table by the largest id, so
// merges are taken only among tokens with ids below seedMaxID.
const (
	seedVocab = 32
	seedMaxID = 1024
)

// tinyCharsmap is a precompiled charsmap (sentencepiece's darts-clone trie
// and replacement blob, see charsMap) with the single rule "H" -> "h".
func tinyCharsmap() []byte {
	units := make([]uint32, 74)
	units[0] = 1 << 10                // root: offset 1
	units[1^'H'] = 'H' | 1<<8 | 1<<10 // label 'H', has a leaf, offset 1
	units[1^'H'^1] = 0                // the leaf: replacement at offset 0
	blob := binary.LittleEndian.AppendUint32(nil, uint32(4*len(units)))
	for _, u := range units {
		blob = binary.LittleEndian.AppendUint32(blob, u)
	}
	return append(blob, "h\x00"...)
}

// shrinkJSON returns data (a tokenizer.json) with its model's vocabulary
// cut to the ids below seedVocab plus the tokens of its first seedVocab/2
// merges among ids below seedMaxID, its added tokens and its unk token, and
// any precompiled charsmap replaced by tinyCharsmap.
func shrinkJSON(data []byte) ([]byte, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(f["model"], &m); err != nil {
		return nil, err
	}
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	var added []struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(f["added_tokens"], &added)
	keep := map[string]bool{str(m["unk_token"]): true}
	for _, a := range added {
		keep[a.Content] = true
	}
	var err error
	switch str(m["type"]) {
	case "BPE", "WordPiece", "WordLevel", "":
		var vocab map[string]int
		if err := json.Unmarshal(m["vocab"], &vocab); err != nil {
			return nil, err
		}
		small := map[string]int{}
		for tok, id := range vocab {
			if id < seedVocab || keep[tok] {
				small[tok] = id
			}
		}
		if m["merges"] != nil {
			merges, err := parseMerges(m["merges"])
			if err != nil {
				return nil, err
			}
			prefix := str(m["continuing_subword_prefix"])
			var kept [][2]string
			for _, mg := range merges {
				if len(kept) == seedVocab/2 {
					break
				}
				if len(mg[1]) < len(prefix) {
					continue
				}
				toks := []string{mg[0], mg[1], mg[0] + mg[1][len(prefix):]}
				if !slices.ContainsFunc(toks, func(tok string) bool { id, ok := vocab[tok]; return !ok || id >= seedMaxID }) {
					for _, tok := range toks {
						small[tok] = vocab[tok]
					}
					kept = append(kept, mg)
				}
			}
			if m["merges"], err = json.Marshal(kept); err != nil {
				return nil, err
			}
		}
		if m["vocab"], err = json.Marshal(small); err != nil {
			return nil, err
		}
	case "Unigram":
		var vocab []json.RawMessage
		if err := json.Unmarshal(m["vocab"], &vocab); err != nil {
			return nil, err
		}
		if m["vocab"], err = json.Marshal(vocab[:min(len(vocab), seedVocab)]); err != nil {
			return nil, err
		}
	}
	if f["model"], err = json.Marshal(m); err != nil {
		return nil, err
	}
	if f["normalizer"] != nil {
		var n any
		if err := json.Unmarshal(f["normalizer"], &n); err != nil {
			return nil, err
		}
		if f["normalizer"], err = json.Marshal(withTinyCharsmap(n)); err != nil {
			return nil, err
		}
	}
	return json.Marshal(f)
}

// withTinyCharsmap replaces every precompiled_charsmap in v (a decoded
// JSON value) by tinyCharsmap.
func withTinyCharsmap(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if _, ok := e.(string); ok && k == "precompiled_charsmap" {
				x[k] = base64.StdEncoding.EncodeToString(tinyCharsmap())
			} else {
				x[k] = withTinyCharsmap(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = withTinyCharsmap(e)
		}
	}
	return v
}

// shrinkSPM returns data (a SentencePiece model) with its normal pieces cut
// to the first seedVocab (the unk, control, user-defined and byte pieces,
// which the loader checks, stay) and its charsmap replaced by tinyCharsmap.
func shrinkSPM(data []byte) ([]byte, error) {
	mp, err := parseModelProto(data)
	if err != nil {
		return nil, err
	}
	var pieces []spmPiece
	normal := 0
	for _, p := range mp.pieces {
		if p.typ == spmNormal || p.typ == spmUnused {
			if normal == seedVocab {
				continue
			}
			normal++
		}
		pieces = append(pieces, p)
	}
	mp.pieces = pieces
	if len(mp.normalizer.charsmap) > 0 {
		mp.normalizer.charsmap = tinyCharsmap()
	}
	return mp.marshal(), nil
}

// fixtureSeeds returns the shrunk copy of every fixture file matching glob
// (in testdata/ and the shared fixture folder). It fails f
// if a shrunk copy does not load: a seed that the parser rejects tests
// nothing past the first check.
func fixtureSeeds(f *testing.F, glob string, shrink func([]byte) ([]byte, error), load func([]byte) (*Tokenizer, error)) [][]byte {
	f.Helper()
	var paths []string
	for _, dir := range []string{"testdata", fixtureDir} {
		p, _ := filepath.Glob(filepath.Join(dir, glob))
		paths = append(paths, p...)
	}
	if len(paths) == 0 {
		f.Fatalf("no fixtures match %s", glob)
	}
	var seeds [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		small, err := shrink(data)
		if err == nil {
			_, err = load(small)
		}
		if err != nil {
			f.Fatalf("seed from %s: %v", p, err)
		}
		seeds = append(seeds, small)
	}
	return seeds
}

// spmVariants returns small synthetic SentencePiece models: the BPE of
// testSPMModel without byte fallback, as Unigram, with the tiny charsmap,
// and with whitespace as suffix.
func spmVariants() [][]byte {
	var out [][]byte
	for i := range 4 {
		m := testSPMModel()
		var pieces []spmPiece
		for _, p := range m.pieces {
			if p.typ != spmByte {
				pieces = append(pieces, p)
			}
		}
		m.pieces, m.trainer.byteFallback = pieces, false
		switch i {
		case 1:
			m.trainer.modelType = spmUnigram
		case 2:
			m.normalizer.charsmap = tinyCharsmap()
			m.normalizer.name = "nmt_nfkc"
		case 3:
			m.trainer.treatWhitespaceAsSuffix = true
			m.normalizer.removeExtraWhitespaces = true
		}
		out = append(out, m.marshal())
	}
	return out
}

// TestFuzzSeedsSmall checks that the shrunk fixtures stay small (the point
// of shrinking them) and that the tiny charsmap applies its rule.
func TestFuzzSeedsSmall(t *testing.T) {
	for _, tc := range []struct {
		glob   string
		shrink func([]byte) ([]byte, error)
	}{{"*.tokenizer.json", shrinkJSON}, {"*.tokenizer.model", shrinkSPM}} {
		paths, _ := filepath.Glob(filepath.Join("testdata", tc.glob))
		more, _ := filepath.Glob(filepath.Join(fixtureDir, tc.glob))
		for _, p := range append(paths, more...) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			small, err := tc.shrink(data)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			t.Logf("%s: %d bytes, shrunk to %d", p, len(data), len(small))
			// The 256 byte pieces of a byte-fallback model take about 4 KB.
			if len(small) > 6<<10 {
				t.Errorf("%s: shrunk seed is %d bytes", p, len(small))
			}
		}
	}
	cm, err := newCharsMap(tinyCharsmap())
	if err != nil {
		t.Fatal(err)
	}
	if r, n := cm.longest("Hello"); r != "h" || n != 1 {
		t.Errorf(`tiny charsmap on "Hello" = %q, %d; want "h", 1`, r, n)
	}
	if _, n := cm.longest("hello"); n != 0 {
		t.Errorf(`tiny charsmap matched "hello"`)
	}
}
