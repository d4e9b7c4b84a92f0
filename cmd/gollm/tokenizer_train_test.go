package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/tokenizer"
)

// tokTrainText is a small text with enough distinct words for 384 tokens.
func tokTrainText() string {
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "The %c%c%c river runs %d miles, and then it's gone.\n", 'a'+i%26, 'a'+i/26%26, 'a'+i%7, i*37)
	}
	return b.String()
}

// TestTokenizerTrainBadInput: every bad flag or input file is refused with
// exit 2 and one line naming it, and the folder is left as it was.
func TestTokenizerTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "a.txt")
	os.WriteFile(data, []byte(tokTrainText()), 0o644)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	badUTF8 := filepath.Join(dir, "bad.txt")
	os.WriteFile(badUTF8, []byte("fine line\nthen \xff here\n"), 0o644)
	small := filepath.Join(dir, "small.txt")
	os.WriteFile(small, []byte("ab ab ab cd\n"), 0o644)
	folder := filepath.Join(dir, "folder")
	os.Mkdir(folder, 0o755)
	other := foreignFolder(t, dir)
	out := filepath.Join(dir, "out")
	before := names(t, dir)

	for _, tc := range []struct {
		name string
		args []string
		want []string // in the message
	}{
		{"no data", []string{"--out", out}, []string{"--data"}},
		{"no out", []string{"--data", data}, []string{"--out"}},
		{"data missing", []string{"--data", filepath.Join(dir, "nope.txt"), "--out", out}, []string{"--data", "nope.txt"}},
		{"one of two missing", []string{"--data", data + "," + filepath.Join(dir, "nope.txt"), "--out", out}, []string{"--data", "nope.txt"}},
		{"data folder", []string{"--data", folder, "--out", out}, []string{"--data", "folder"}},
		{"data empty", []string{"--data", empty, "--out", out}, []string{"--data", "empty.txt", "empty"}},
		{"data invalid UTF-8", []string{"--data", data + "," + badUTF8, "--out", out}, []string{"--data", "bad.txt", "invalid UTF-8 at byte 15"}},
		{"vocab not a multiple of 128", []string{"--data", data, "--vocab-size", "4000", "--out", out}, []string{"--vocab-size", "multiple of 128"}},
		{"vocab below the alphabet", []string{"--data", data, "--vocab-size", "256", "--out", out}, []string{"--vocab-size", "below 258"}},
		{"vocab negative", []string{"--data", data, "--vocab-size", "-128", "--out", out}, []string{"--vocab-size"}},
		{"vocab not a number", []string{"--data", data, "--vocab-size", "lots", "--out", out}, []string{"vocab-size"}},
		{"vocab too large for the corpus", []string{"--data", small, "--vocab-size", "384", "--out", out}, []string{"--data", "small.txt", "too large for the corpus"}},
		{"out holds other files", []string{"--data", data, "--vocab-size", "384", "--out", other}, []string{"--out", "other"}},
		{"out parent missing", []string{"--data", data, "--vocab-size", "384", "--out", filepath.Join(dir, "no", "out")}, []string{"--out"}},
		{"out is a file", []string{"--data", data, "--vocab-size", "384", "--out", data}, []string{"--out", "a.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runBadInput(t, append([]string{"tokenizer-train"}, tc.args...), false, tc.want...)
			untouched(t, dir, before, filepath.Join(other, "notes.txt"), "mine")
		})
	}
}

// TestTokenizerTrainCommand: a run writes a loadable folder of exactly
// the requested size, a second run replaces it, and a cancelled run
// leaves nothing.
func TestTokenizerTrainCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "a.txt")
	text := tokTrainText()
	os.WriteFile(data, []byte(text), 0o644)
	out := filepath.Join(dir, "tok")
	args := []string{"tokenizer-train", "--data", data, "--vocab-size", "384", "--out", out, "--json"}
	for run := range 2 {
		code, stdout, stderr := runCLI(args...)
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", run, code, stderr)
		}
		var res tokenizerTrainOutput
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("stdout %q: %v", stdout, err)
		}
		if res.VocabSize != 384 || res.DataBytes != int64(len(text)) || res.DataTokens <= 0 || res.DataTokens >= len(text) {
			t.Errorf("result %+v: want 384 tokens, %d bytes, fewer tokens than bytes", res, len(text))
		}
	}
	if got, want := names(t, out), ".gollm-output.json special_tokens_map.json tokenizer.json tokenizer_config.json"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	if got := names(t, dir); got != "a.txt tok" {
		t.Errorf("folder holds %q, want a.txt tok (no staging or lock left)", got)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 384 || tok.Decode(tok.Encode(text, true), true) != text {
		t.Errorf("the folder's tokenizer: %d ids, round trip %v", tok.VocabSize(), tok.Decode(tok.Encode(text, true), true) == text)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cut := filepath.Join(dir, "cut")
	var o, e bytes.Buffer
	if code := run(ctx, []string{"tokenizer-train", "--data", data, "--vocab-size", "384", "--out", cut}, &o, &e); code != 1 {
		t.Errorf("cancelled run: exit %d, want 1 (%s)", code, e.String())
	}
	if got := names(t, dir); got != "a.txt tok" {
		t.Errorf("after a cancelled run the folder holds %q, want a.txt tok", got)
	}
}

// TestTokenizerTrainPrefixSpace: with --add-prefix-space (and not by
// default) --json says add_prefix_space and the folder's tokenizer encodes
// the letter "A" alone as the last token of "Answer: A" (package
// bpetrain's tests check the tokenizer.json field itself).
func TestTokenizerTrainPrefixSpace(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "a.txt")
	var b strings.Builder
	b.WriteString(tokTrainText())
	for i := range 200 {
		fmt.Fprintf(&b, "Question %d?\nAnswer: %c\n", i, 'A'+i%4)
	}
	os.WriteFile(data, []byte(b.String()), 0o644)
	for _, tc := range []struct {
		flag []string
		want bool
	}{{nil, false}, {[]string{"--add-prefix-space"}, true}} {
		out := filepath.Join(dir, fmt.Sprintf("tok-%v", tc.want))
		args := append([]string{"tokenizer-train", "--data", data, "--vocab-size", "384", "--out", out, "--json"}, tc.flag...)
		code, stdout, stderr := runCLI(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.flag, code, stderr)
		}
		var res tokenizerTrainOutput
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.AddPrefixSpace != tc.want {
			t.Errorf("%v: --json add_prefix_space %v, want %v (%v)", tc.flag, res.AddPrefixSpace, tc.want, err)
		}
		tok, err := tokenizer.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		alone, answer := tok.Encode("A", false), tok.Encode("Answer: A", false)
		if same := alone[len(alone)-1] == answer[len(answer)-1]; same != tc.want {
			t.Errorf("%v: \"A\" %v and \"Answer: A\" %v end in the same token: %v, want %v", tc.flag, alone, answer, same, tc.want)
		}
	}
}
