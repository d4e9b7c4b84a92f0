package corpus

import (
	"bytes"
	"compress/gzip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/testfs"
)

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	jsonl := []byte("{\"text\": \"one\", \"url\": \"x\"}\n\n{\"text\": \"two\"}\n\"three\"\n")
	tests := []struct {
		name  string
		split Split
		data  []byte
		want  []string
	}{
		{"c4.jsonl", Whole, jsonl, []string{"one", "two", "three"}},
		{"c4-train.00000-of-01024.json.gz", Whole, gz(t, jsonl), []string{"one", "two", "three"}},
		{"C4.JSONL.GZ", Whole, gz(t, jsonl), []string{"one", "two", "three"}},
		{"array.json", Whole, []byte(`[{"text": "a"}, "b", {"content": "c"}]`), []string{"a", "b", "c"}},
		{"bom.json", Whole, []byte("\xef\xbb\xbf [\"a\"]"), []string{"a"}},
		{"pages.jsonl", Whole, []byte(`{"page": "p1"}` + "\n" + `{"page": "p2"}`), []string{"p1", "p2"}},
		{"wikitext-2-train.jsonl", Whole, []byte(`{"text": " = A = \n"}` + "\n" + `{"text": " b \n"}`), []string{" = A = \n  b \n"}},
		{"wiki.train.raw", Whole, []byte(" \n = A = \n text\n"), []string{" \n  = A = \n  text\n"}},
		{"book.txt", Whole, []byte("plain text\nmore"), []string{"plain text\nmore"}},
		{"book.txt.gz", Whole, gz(t, []byte("zipped text")), []string{"zipped text"}},
		// Lines: BookCorpus rows, as LLM-Pruner reads them.
		{"rows.txt", Lines, []byte("one\n\n two \nthree"), []string{"one", "two", "three"}},
		{"rows.raw", Lines, []byte(" \n = A = \n text\n"), []string{"= A =", "text"}},
		{"rows.txt.gz", Lines, gz(t, []byte("a\r\nb\r\n")), []string{"a", "b"}},
		{"rows.jsonl", Lines, []byte(`{"text": "a b"}` + "\n" + `"c"` + "\n"), []string{"a b", "c"}},
		{"wikitext-rows.jsonl", Lines, []byte(`{"text": "a"}` + "\n" + `{"text": "b"}`), []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testfs.WriteFile(t, t.TempDir(), tc.name, tc.data)
			docs, files, err := Read([]string{p}, tc.split)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(docs, tc.want) {
				t.Errorf("documents %q, want %q", docs, tc.want)
			}
			if files[0].Path != p || files[0].Bytes != int64(len(tc.data)) || len(files[0].SHA256) != 64 || files[0].Documents != len(tc.want) {
				t.Errorf("file record %+v", files[0])
			}
		})
	}
	// Several files: documents in order, one record per file.
	a := testfs.WriteFile(t, dir, "a.txt", []byte("first"))
	b := testfs.WriteFile(t, dir, "b.jsonl", []byte(`"second"`+"\n"+`"third"`))
	docs, files, err := Read([]string{a, b}, Whole)
	if err != nil || !slices.Equal(docs, []string{"first", "second", "third"}) || len(files) != 2 || files[1].Documents != 2 {
		t.Errorf("two files: %q %+v %v", docs, files, err)
	}
}

func TestReadBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := []struct {
		name  string
		split Split
		data  string
		msg   string
	}{
		{"bad.jsonl", Whole, "{\"text\": 1}\n", "line 1"},
		{"bad2.jsonl", Whole, "{\"other\": \"x\"}\n", "no \"text\""},
		{"bad3.jsonl", Whole, "ok\n\nnot json\n", "line 1"},
		{"bad4.jsonl", Lines, "\"ok\"\n\n{\"text\": \n", "line 3"},
		{"bad.json.gz", Whole, "not gzip", "gzip"},
		{"blank.txt", Whole, "  \n\t", "no text"},
		{"blank-rows.txt", Lines, "  \n\t\n", "no text"},
		{"empty.jsonl", Whole, "", "empty"},
		{"bad.json", Whole, "[1, 2", "JSON array"},
		{"bad-element.json", Whole, `["a", 2]`, "element 1"},
		{"binary.bin", Whole, "text\xff\xfe", "invalid UTF-8 at byte offset 4"},
		{"nul.txt", Whole, "ab\x00", "NUL byte at byte offset 2"},
		{"nul-rows.txt", Lines, "ab\ncd\x00", "NUL byte at byte offset 5"},
		{"binary.raw", Whole, "line one\nline \x80two\n", "invalid UTF-8 at byte offset 14"},
		{"binary.jsonl", Whole, "{\"text\": \"a\xc3\"}\n", "invalid UTF-8 at byte offset 11"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := testfs.WriteFile(t, dir, tc.name, []byte(tc.data))
			docs, _, err := Read([]string{p}, tc.split)
			if !badinput.Is(err) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.name) || docs != nil {
				t.Errorf("error %v, want bad input naming the file and %q", err, tc.msg)
			}
		})
	}
	if _, _, err := Read([]string{filepath.Join(dir, "missing.jsonl")}, Whole); !badinput.Is(err) || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzRead feeds arbitrary bytes to the reader under every supported file
// name and both splits: it must return documents or bad input, never panic.
func FuzzRead(f *testing.F) {
	names := []string{"c4.jsonl", "c4.json", "c4.json.gz", "wiki.train.raw", "book.txt", "book.txt.gz"}
	f.Add([]byte("{\"text\": \"hello\"}\n{\"text\": \"world\"}\n"), uint8(0), false)
	f.Add([]byte(`[{"text": "a"}, "b"]`), uint8(1), false)
	f.Add([]byte(" = T = \n text \n"), uint8(3), true)
	f.Add([]byte("\xef\xbb\xbf{\"page\": \"x\"}"), uint8(0), false)
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), uint8(2), false)
	f.Add([]byte("x\ny\n"), uint8(4), true)
	f.Add([]byte(""), uint8(4), false)
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, lines bool) {
		split := Whole
		if lines {
			split = Lines
		}
		p := testfs.WriteFile(t, t.TempDir(), names[int(kind)%len(names)], data)
		docs, files, err := Read([]string{p}, split)
		if err != nil {
			if !badinput.Is(err) || docs != nil {
				t.Fatalf("error %v (with %d documents) is not bad input", err, len(docs))
			}
			return
		}
		if len(docs) == 0 || len(files) != 1 || files[0].Bytes != int64(len(data)) {
			t.Fatalf("%d documents, files %+v", len(docs), files)
		}
	})
}
