package llmpruner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/llmcbench/gollm/internal/pyrand"
)

// maxLineBytes bounds one calibration document line.
const maxLineBytes = 64 << 20

// ReadDocuments reads calibration text files into documents. A file whose
// name ends in .jsonl or .json (optionally .gz) holds one JSON record per
// line with a "text" field (or a bare JSON string); any other file holds
// one document per non-empty line, as BookCorpus's rows are lines. Errors
// wrap ErrBadInput and name the file.
func ReadDocuments(paths []string) ([]string, error) {
	var docs []string
	for _, p := range paths {
		d, err := readDocFile(p)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

func readDocFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calibration %s: %w: %v", path, ErrBadInput, err)
	}
	defer f.Close()
	var r io.Reader = f
	name := path
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("calibration %s: %w: %v", path, ErrBadInput, err)
		}
		defer gz.Close()
		r = gz
		name = strings.TrimSuffix(name, ".gz")
	}
	isJSON := strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json")
	docs, err := parseDocs(r, isJSON)
	if err != nil {
		return nil, fmt.Errorf("calibration %s: %w", path, err)
	}
	return docs, nil
}

// parseDocs splits r into documents: JSON records (isJSON) or lines.
func parseDocs(r io.Reader, isJSON bool) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var docs []string
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !isJSON {
			docs = append(docs, string(b))
			continue
		}
		var s string
		if b[0] == '"' {
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrBadInput, line, err)
			}
		} else {
			var rec struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(b, &rec); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrBadInput, line, err)
			}
			if rec.Text == nil {
				return nil, fmt.Errorf("%w: line %d: no \"text\" field", ErrBadInput, line)
			}
			s = *rec.Text
		}
		docs = append(docs, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrBadInput, line+1, err)
	}
	return docs, nil
}

// SampleCalibration draws nsamples windows of seqlen tokens from docs as
// LLM-Pruner's get_bookcorpus does, with Python's random seeded by seed: per
// sample, documents are drawn with randint(0, len(docs)−1) until one that
// was not drawn before has at least seqlen tokens, then a window start with
// randint(0, tokens−seqlen). Documents are tokenized with BOS (the
// reference's tokenizer call). It returns ErrBadInput when the documents
// cannot supply the samples (where the reference would loop forever).
func SampleCalibration(docs []string, tok Tokenizer, nsamples, seqlen int, seed int64) ([][]int, error) {
	if nsamples < 1 || seqlen < 1 {
		return nil, badInput("calibration: %d samples of %d tokens", nsamples, seqlen)
	}
	cache := make(map[int][]int)
	encode := func(i int) []int {
		if ids, ok := cache[i]; ok {
			return ids
		}
		ids := tok.Encode(docs[i], true)
		cache[i] = ids
		return ids
	}
	// Count the documents long enough, so an impossible request fails
	// instead of looping (this tokenizes every document once).
	long := 0
	for i := range docs {
		if len(encode(i)) >= seqlen {
			long++
		}
	}
	if long < nsamples {
		return nil, badInput("calibration: %d documents have at least %d tokens, %d samples need as many", long, seqlen, nsamples)
	}
	rng := pyrand.New(seed)
	used := make(map[int]bool)
	out := make([][]int, 0, nsamples)
	for range nsamples {
		var ids []int
		for {
			d, _ := rng.Randint(0, len(docs)-1) // docs is not empty
			ids = encode(d)
			if len(ids) >= seqlen && !used[d] {
				used[d] = true
				break
			}
		}
		j, _ := rng.Randint(0, len(ids)-seqlen) // len(ids) ≥ seqlen
		out = append(out, slices.Clone(ids[j:j+seqlen]))
	}
	return out, nil
}
