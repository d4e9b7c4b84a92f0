package bpetrain

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/llmcbench/gollm/tokenizer"
)

// trained holds the tokenizers trained by trainedDir, without and with
// the prefix space.
var trained [2]struct {
	once sync.Once
	dir  string
	err  error
}

// prefixModes are the two pre-tokenizer settings every test covers.
var prefixModes = []struct {
	name        string
	prefixSpace bool
}{{"no-prefix-space", false}, {"prefix-space", true}}

// trainedDir trains a 2048-token tokenizer on the world's training text
// (with the prefix space or not) once per test binary and saves it into
// a folder.
func trainedDir(t *testing.T, prefixSpace bool) string {
	t.Helper()
	tr := &trained[b2i(prefixSpace)]
	tr.once.Do(func() {
		c := NewCorpus(CorpusOptions{AddPrefixSpace: prefixSpace})
		if err := c.Add("train.txt", bytes.NewReader(worldTrain(t))); err != nil {
			tr.err = err
			return
		}
		m, err := Train(context.Background(), c, Options{VocabSize: 2048})
		if err != nil {
			tr.err = err
			return
		}
		dir, err := os.MkdirTemp("", "bpetrain-test-")
		if err != nil {
			tr.err = err
			return
		}
		tr.dir, tr.err = dir, m.Save(dir)
	})
	if tr.err != nil {
		t.Fatal(tr.err)
	}
	return tr.dir
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := range trained {
		if trained[i].dir != "" {
			os.RemoveAll(trained[i].dir)
		}
	}
	os.Exit(code)
}

// worldLines are the lines of the training text, each with its '\n'.
func worldLines(t *testing.T) []string {
	return strings.SplitAfter(string(worldTrain(t)), "\n")
}

// TestLoadRoundTrip: package tokenizer loads the saved folder, finds BOS
// and EOS, adds BOS, and every line of the corpus (and the whole text)
// decodes back to itself (with the prefix space, to itself after a space
// where it starts without one, as Hugging Face's ByteLevel decoder gives).
func TestLoadRoundTrip(t *testing.T) {
	for _, mode := range prefixModes {
		t.Run(mode.name, func(t *testing.T) {
			tok, err := tokenizer.Load(trainedDir(t, mode.prefixSpace))
			if err != nil {
				t.Fatal(err)
			}
			if tok.VocabSize() != 2048 {
				t.Errorf("VocabSize %d, want 2048", tok.VocabSize())
			}
			if id, ok := tok.BOS(); !ok || id != 0 || !tok.AddsBOS() {
				t.Errorf("BOS %d %v, adds BOS %v; want id 0, added", id, ok, tok.AddsBOS())
			}
			if id, ok := tok.EOS(); !ok || id != 1 {
				t.Errorf("EOS %d %v, want 1", id, ok)
			}
			lines := worldLines(t)
			for _, line := range append(lines, string(worldTrain(t))) {
				ids := tok.Encode(line, true)
				if len(line) > 0 && (len(ids) < 2 || ids[0] != 0) {
					t.Fatalf("Encode(%.40q, true) = %v: want BOS then tokens", line, ids)
				}
				want := line
				if mode.prefixSpace && line != "" && !strings.HasPrefix(line, " ") {
					want = " " + line
				}
				if got := tok.Decode(ids, true); got != want {
					t.Fatalf("round trip of %.60q gave %.60q", line, got)
				}
				for _, id := range ids[1:] {
					if tok.IsSpecial(id) {
						t.Fatalf("special id %d inside the text of %.40q", id, line)
					}
				}
			}
		})
	}
}

// savedPrefixSpace returns the add_prefix_space of the pre-tokenizer of
// the tokenizer.json file path.
func savedPrefixSpace(t *testing.T, path string) bool {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		PreTokenizer struct {
			AddPrefixSpace bool `json:"add_prefix_space"`
		} `json:"pre_tokenizer"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc.PreTokenizer.AddPrefixSpace
}

// TestPrefixSpaceLetters: with the prefix space a letter alone encodes as
// the token that follows "Answer:" (ĠA, as LLaMA-1/2's ▁A), the token
// LLMCBench scores as tokenizer("A").input_ids[-1]; without it the letter
// alone is the bare byte token (GPT-2's and LLaMA-3's behaviour).
func TestPrefixSpaceLetters(t *testing.T) {
	for _, mode := range prefixModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := trainedDir(t, mode.prefixSpace)
			if got := savedPrefixSpace(t, filepath.Join(dir, tokenizer.JSONFile)); got != mode.prefixSpace {
				t.Errorf("tokenizer.json pre_tokenizer add_prefix_space %v, want %v", got, mode.prefixSpace)
			}
			tok, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range []string{"A", "B", "C", "D"} {
				alone := tok.Encode(l, false)
				answer := tok.Encode("Answer: "+l, false)
				last := alone[len(alone)-1]
				want := l
				if mode.prefixSpace {
					want = "Ġ" + l
				}
				if len(alone) != 1 || tok.IDToToken(last) != want {
					t.Errorf("Encode(%q) = %v, want the one token %q", l, alone, want)
				}
				if same := last == answer[len(answer)-1]; same != mode.prefixSpace {
					t.Errorf("%q alone ends in %d, \"Answer: %s\" in %d: same token %v, want %v", l, last, l, answer[len(answer)-1], same, mode.prefixSpace)
				}
			}
		})
	}
}

// hfCheckTexts are texts beyond the corpus lines: digits, punctuation,
// runs of spaces, newlines, tabs, non-ASCII and the special tokens' text.
var hfCheckTexts = []string{
	"", "x", " ", "  ", "\n", "\n\n\n", "\r\n", "\t tab\tand  \t mixed",
	"0123456789 12345 3.14159 1,000,000 2026-12-07",
	"Hello, world! (really?) -- yes; 'quoted' \"double\" [x] {y} <z> a/b\\c @#$%^&*_+=|~`",
	"a  b   c    d     e",
	"trailing spaces   ", "   leading spaces", " one leading space",
	"line one\nline two\n\n  indented line\n",
	"it's they're I'll we've you'd she'd I'm DON'T",
	"café naïve Ünïcödé façade Ω≈ç√ 中文字 日本語 한국어 😀👍🏽 🇫🇷",
	"<|begin_of_text|>text between specials<|end_of_text|> and after",
	"\u00a0non-breaking\u2003em space\u200bzero width",
}

// TestHFConformance: Hugging Face tokenizers (the npm package run by Node)
// loads the saved tokenizer.json (with and without the prefix space) and
// encodes corpus lines, the whole validation-like text and tricky strings
// to the same ids as package tokenizer, with and without BOS, and decodes
// them to the same text.
func TestHFConformance(t *testing.T) {
	node, nodePath := hfOracle(t)
	lines := worldLines(t)
	var texts []string
	for i := 0; i < len(lines); i += 97 {
		texts = append(texts, lines[i])
	}
	texts = append(texts, hfCheckTexts...)
	texts = append(texts, string(worldTrain(t)[:200000]))
	in, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range prefixModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := trainedDir(t, mode.prefixSpace)
			cmd := exec.Command(node, filepath.Join("testdata", "hf_encode.js"), filepath.Join(dir, tokenizer.JSONFile))
			cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node hf_encode.js: %v: %s", err, stderr.String())
			}
			var ref []struct {
				IDs          []int  `json:"ids"`
				IDsNoSpecial []int  `json:"ids_no_special"`
				Decoded      string `json:"decoded"`
			}
			if err := json.Unmarshal(out, &ref); err != nil {
				t.Fatal(err)
			}
			if len(ref) != len(texts) {
				t.Fatalf("%d reference results for %d texts", len(ref), len(texts))
			}
			tok, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range texts {
				if got := tok.Encode(text, true); !slices.Equal(got, ref[i].IDs) {
					t.Errorf("Encode(%.60q, true)\n got %v\nwant %v", text, got, ref[i].IDs)
				}
				got := tok.Encode(text, false)
				if !slices.Equal(got, ref[i].IDsNoSpecial) {
					t.Errorf("Encode(%.60q, false)\n got %v\nwant %v", text, got, ref[i].IDsNoSpecial)
					continue
				}
				if d := tok.Decode(got, true); d != ref[i].Decoded {
					t.Errorf("Decode(ids of %.60q) = %.60q, reference %.60q", text, d, ref[i].Decoded)
				}
			}
		})
	}
}

// hfOracle finds node and the npm package tokenizers (in NODE_PATH or in
// the repository's .cache/oracle, where make oracle installs it), or skips.
func hfOracle(t *testing.T) (node, nodePath string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the Hugging Face conformance check needs Node and the npm package tokenizers (make oracle)")
	}
	local, err := filepath.Abs(filepath.Join("..", "..", ".cache", "oracle", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	nodePath = local
	if p := os.Getenv("NODE_PATH"); p != "" {
		nodePath = p + string(os.PathListSeparator) + local
	}
	cmd := exec.Command(node, "-e", "require('tokenizers')")
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("the npm package tokenizers is not installed (make oracle installs it into .cache/oracle): %v %.200s", err, out)
	}
	return node, nodePath
}

// TestHFTrainer: Hugging Face's own BpeTrainer, trained until no pair is
// left on the world's text and on the tricky texts, with and without the
// prefix space, learns the same merges in the same order. (Its ids
// differ, with no special tokens and only the bytes the text uses, but in
// the same relative order, so ties break alike.)
func TestHFTrainer(t *testing.T) {
	node, nodePath := hfOracle(t)
	dir := t.TempDir()
	for _, mode := range prefixModes {
		for _, tc := range []struct {
			name string
			text string
		}{
			{"world", string(worldTrain(t))},
			// Lines starting with and without spaces, blank lines, a
			// contraction and a tab at a line's start.
			{"tricky", strings.Join(hfCheckTexts, "\n") + "\n's start\n\tx\n\n x\n"},
		} {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				file := filepath.Join(dir, tc.name+".txt")
				if err := os.WriteFile(file, []byte(tc.text), 0o644); err != nil {
					t.Fatal(err)
				}
				outJSON := filepath.Join(dir, mode.name+"-"+tc.name+".json")
				args := []string{filepath.Join("testdata", "hf_train.js")}
				if mode.prefixSpace {
					args = append(args, "--add-prefix-space")
				}
				cmd := exec.Command(node, append(args, outJSON, file)...)
				cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("node hf_train.js: %v: %s", err, stderr.String())
				}
				var want [][2]string
				if err := json.Unmarshal(out, &want); err != nil {
					t.Fatal(err)
				}
				if got := savedPrefixSpace(t, outJSON); got != mode.prefixSpace {
					t.Fatalf("Hugging Face's tokenizer.json: add_prefix_space %v, want %v", got, mode.prefixSpace)
				}
				c := NewCorpus(CorpusOptions{AddPrefixSpace: mode.prefixSpace})
				if err := c.Add(tc.name, strings.NewReader(tc.text)); err != nil {
					t.Fatal(err)
				}
				m, err := learn(context.Background(), c, MaxVocab, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(want) < 10 {
					t.Fatalf("the reference learned only %d merges", len(want))
				}
				for i := range min(len(want), len(m.Merges)) {
					if m.Merges[i] != want[i] {
						t.Fatalf("merge %d = %q, Hugging Face's %q", i, m.Merges[i], want[i])
					}
				}
				if len(m.Merges) != len(want) {
					t.Fatalf("%d merges, Hugging Face %d", len(m.Merges), len(want))
				}
			})
		}
	}
}
