package compress

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/internal/corpus"
)

// FuzzReadDocuments feeds arbitrary bytes to the calibration reader under
// every supported file name: it must return documents or an ErrBadInput,
// never panic.
func FuzzReadDocuments(f *testing.F) {
	names := []string{"c4.jsonl", "c4.json", "c4.json.gz", "wiki.train.raw", "book.txt", "book.txt.gz"}
	f.Add([]byte("{\"text\": \"hello\"}\n{\"text\": \"world\"}\n"), uint8(0))
	f.Add([]byte(`[{"text": "a"}, "b"]`), uint8(1))
	f.Add([]byte(" = T = \n text \n"), uint8(3))
	f.Add([]byte("\xef\xbb\xbf{\"page\": \"x\"}"), uint8(0))
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), uint8(2))
	f.Add([]byte(""), uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		dir := t.TempDir()
		p := filepath.Join(dir, names[int(kind)%len(names)])
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		docs, files, err := corpus.Read([]string{p}, corpus.Whole)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error %v does not wrap ErrBadInput", err)
			}
			return
		}
		if len(docs) == 0 || len(files) != 1 || files[0].Bytes != int64(len(data)) {
			t.Fatalf("%d documents, files %+v", len(docs), files)
		}
		// Whatever was read can be sampled without panicking.
		_, _ = Sample(docs, byteTok{}, SampleWindow, 2, 4, 0)
		_, _ = Sample(docs, byteTok{}, SampleConcat, 2, 4, 0)
		_, _ = Sample(docs, byteTok{}, SampleTruncate, 1, 4, 0)
	})
}
