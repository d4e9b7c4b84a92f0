package corpus

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
)

var sampleDocs = []string{"short", strings.Repeat("x", 40) + " alpha beta gamma", "tiny",
	"The quick brown fox jumps over the lazy dog again and again.", "mid length doc here!",
	"Another fairly long document that has many bytes in it, enough for windows."}

// The windows GPTQ's get_c4 picks, computed with CPython's random and the
// same byte tokenizer (see the comment in calib.go).
func TestSampleWindowsMatchesGPTQLoader(t *testing.T) {
	c, err := Sample(sampleDocs, ByteEncoder{}, SampleWindow, 6, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Window{{3, 26, 16}, {4, 3, 16}, {3, 19, 16}, {3, 22, 16}, {4, 1, 16}, {4, 1, 16}}
	if !slices.Equal(c.Windows, want) {
		t.Errorf("windows %v, want %v", c.Windows, want)
	}
	for i, w := range c.Windows {
		ids := ByteEncoder{}.Encode(sampleDocs[w.Doc], true)
		if !slices.Equal(c.Samples[i], ids[w.Start:w.Start+16]) {
			t.Fatalf("sample %d is not the window it records", i)
		}
	}
	if c.Tokens != 96 {
		t.Errorf("tokens %d", c.Tokens)
	}
	// One document (WikiText joined): windows of it, no document draws.
	c, err = Sample([]string{strings.Join(sampleDocs, " ")}, ByteEncoder{}, SampleWindow, 4, 16, 3)
	if err != nil {
		t.Fatal(err)
	}
	var starts []int
	for _, w := range c.Windows {
		starts = append(starts, w.Start)
	}
	if !slices.Equal(starts, []int{60, 151, 139, 33}) {
		t.Errorf("single-document starts %v, want [60 151 139 33]", starts)
	}
}

func TestSampleErrors(t *testing.T) {
	tests := []struct {
		name     string
		docs     []string
		sampling string
		n, len   int
		msg      string
	}{
		{"no-long-doc", []string{"ab", "cd"}, SampleWindow, 2, 64, "no document"},
		{"too-little", sampleDocs, SampleWindow, 100, 16, "too little text"},
		{"one-doc-short", []string{strings.Repeat("a", 60)}, SampleWindow, 10, 16, "too little text"},
		{"concat-empty", []string{"", "  "}, SampleConcat, 4, 16, "too little text"},
		{"truncate-few", []string{"a", "b"}, SampleTruncate, 3, 16, "too little text"},
		{"bad-sampling", sampleDocs, "nope", 1, 16, "unknown"},
	}
	for _, tc := range tests {
		_, err := Sample(tc.docs, ByteEncoder{}, tc.sampling, tc.n, tc.len, 0)
		if !errors.Is(err, badinput.ErrBadInput) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrBadInput with %q", tc.name, err, tc.msg)
		}
	}
	// Documents long in bytes but never long in tokens end the search.
	shrink := tokFunc(func(s string) []int { return []int{1, 2} })
	if _, err := Sample([]string{strings.Repeat("a", 40), strings.Repeat("b", 40)}, shrink, SampleWindow, 1, 16, 0); !errors.Is(err, badinput.ErrBadInput) {
		t.Errorf("no document long in tokens: %v", err)
	}
}

type tokFunc func(string) []int

func (f tokFunc) Encode(s string, _ bool) []int { return f(s) }

func TestSampleConcatAndTruncate(t *testing.T) {
	// Documents of more than 16 tokens are skipped: "short" and "tiny"
	// (6 and 5 tokens) remain, 11 tokens: less than one block.
	if _, err := Sample(sampleDocs, ByteEncoder{}, SampleConcat, 4, 16, 42); !errors.Is(err, badinput.ErrBadInput) || !strings.Contains(err.Error(), "2 documents") {
		t.Errorf("concat of two short documents: %v", err)
	}
	c, err := Sample(sampleDocs, ByteEncoder{}, SampleConcat, 6, 64, 42)
	if err != nil {
		t.Fatal(err)
	}
	total, used := 0, 0
	for _, d := range sampleDocs {
		if len(d)+1 <= 64 { // longer documents are skipped
			total += len(d) + 1
			used++
		}
	}
	if len(c.Samples) != total/64 || c.DocsUsed != used {
		t.Errorf("concat: %d blocks from %d documents, want %d from %d", len(c.Samples), c.DocsUsed, total/64, used)
	}
	for _, s := range c.Samples {
		if len(s) != 64 {
			t.Fatalf("block of %d tokens", len(s))
		}
	}
	c, err = Sample(sampleDocs, ByteEncoder{}, SampleTruncate, 4, 10, 42)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range c.Samples {
		doc := ByteEncoder{}.Encode(sampleDocs[c.Windows[i].Doc], true)
		if !slices.Equal(s, doc[:min(10, len(doc))]) {
			t.Errorf("truncate sample %d is not the start of document %d", i, c.Windows[i].Doc)
		}
	}
	// The same seed gives the same set; another seed another order.
	a, _ := Sample(sampleDocs, ByteEncoder{}, SampleTruncate, 6, 10, 1)
	b, _ := Sample(sampleDocs, ByteEncoder{}, SampleTruncate, 6, 10, 1)
	if !slices.Equal(a.Windows, b.Windows) {
		t.Error("sampling is not deterministic")
	}
}

// LLM-Pruner's loader: deterministic, one window per document and no
// document twice, refused when too few documents are long enough.
func TestSampleDistinct(t *testing.T) {
	docs := []string{"short", strings.Repeat("a", 30), strings.Repeat("b", 40), "tiny", strings.Repeat("c", 25)}
	c1, err := Sample(docs, ByteEncoder{}, SampleDistinct, 3, 20, 42)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := Sample(docs, ByteEncoder{}, SampleDistinct, 3, 20, 42)
	if len(c1.Samples) != 3 || !slices.EqualFunc(c1.Samples, c2.Samples, slices.Equal) {
		t.Fatalf("samples not deterministic: %v vs %v", c1.Samples, c2.Samples)
	}
	seen := map[int]bool{}
	for i, w := range c1.Windows {
		if w.Len != 20 || len(c1.Samples[i]) != 20 {
			t.Fatalf("window %+v", w)
		}
		seen[w.Doc] = true
	}
	if len(seen) != 3 {
		t.Fatalf("documents repeated: %v", c1.Windows)
	}
	if _, err := Sample(docs, ByteEncoder{}, SampleDistinct, 4, 20, 42); !errors.Is(err, badinput.ErrBadInput) {
		t.Fatalf("4 samples from 3 long documents: %v", err)
	}
}
