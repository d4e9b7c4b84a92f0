package compress

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"unicode"

	"github.com/llmcbench/gollm/internal/pyrand"
)

// CalibFile describes one calibration file as it was read.
type CalibFile struct {
	Path      string `json:"path"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"`
	Documents int    `json:"documents"`
}

// Window is one calibration sample: tokens [Start, Start+Len) of document
// Doc (documents numbered across the files in order). Concatenated samples
// (SampleConcat) have Doc -1 and Start the offset in the concatenation.
type Window struct {
	Doc   int `json:"doc"`
	Start int `json:"start"`
	Len   int `json:"len"`
}

// Calibration is the calibration set a run used: the token ids of every
// sample and where they came from.
type Calibration struct {
	Files    []CalibFile `json:"files"`
	Sampling string      `json:"sampling"`
	NSamples int         `json:"nsamples"`
	Seqlen   int         `json:"seqlen"`
	Seed     int64       `json:"seed"`
	Tokens   int         `json:"tokens"`
	Windows  []Window    `json:"windows"`
	// DocsUsed counts the documents AWQ's loader concatenated.
	DocsUsed int `json:"docs_used,omitempty"`
	// Samples are the token ids (not written to the record).
	Samples [][]int `json:"-"`
}

// maxDocBytes bounds one calibration document (a C4 document is a few
// kilobytes; WikiText-103 joined is about 540 MB).
const maxDocBytes = 1 << 30

// ReadDocuments reads calibration text files into documents:
//   - JSON lines (.jsonl, .json, optionally .gz): one document per line, the
//     string field "text" (C4), "page" (lm-eval WikiText) or "content", or a
//     bare JSON string; a .json file that starts with '[' is a JSON array of
//     such records;
//   - WikiText .raw (optionally .gz): the lines joined with " " into one
//     document, as GPTQ's WikiText loader joins the dataset rows;
//   - any other file: the whole text is one document.
//
// Records of a JSON file whose name contains "wikitext" are likewise joined
// into one document. Errors wrap ErrBadInput and name the file.
func ReadDocuments(paths []string) ([]string, []CalibFile, error) {
	var docs []string
	var files []CalibFile
	for _, p := range paths {
		d, f, err := readDocFile(p)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, d...)
		files = append(files, f)
	}
	return docs, files, nil
}

func readDocFile(path string) (docs []string, info CalibFile, err error) {
	info.Path = path
	f, err := os.Open(path)
	if err != nil {
		return nil, info, badInput("calibration file %s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	h := sha256.New()
	counted := &countReader{r: io.TeeReader(f, h)}
	var r io.Reader = bufio.NewReaderSize(counted, 1<<20)
	name := strings.ToLower(path)
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, info, badInput("calibration file %s: not gzip: %v", path, err)
		}
		defer gz.Close()
		r = gz
		name = strings.TrimSuffix(name, ".gz")
	}
	br := bufio.NewReaderSize(io.LimitReader(r, 16*maxDocBytes), 1<<20)
	switch {
	case strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json"):
		docs, err = readJSONDocs(br, path)
	case strings.HasSuffix(name, ".raw"):
		docs, err = readRawDoc(br, path)
	default:
		var b []byte
		b, err = io.ReadAll(io.LimitReader(br, maxDocBytes+1))
		if err == nil && len(b) > maxDocBytes {
			err = badInput("calibration file %s: a text file is one document, and it exceeds %d bytes", path, maxDocBytes)
		}
		if err == nil {
			docs = []string{string(b)}
		}
	}
	if err != nil {
		if !errors.Is(err, ErrBadInput) {
			err = badInput("calibration file %s: %v", path, err)
		}
		return nil, info, err
	}
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return nil, info, badInput("calibration file %s: %v", path, err)
	}
	if strings.Contains(strings.ToLower(path), "wikitext") && len(docs) > 1 {
		docs = []string{strings.Join(docs, " ")}
	}
	n := 0
	for _, d := range docs {
		if strings.TrimFunc(d, unicode.IsSpace) != "" {
			n++
		}
	}
	if n == 0 {
		return nil, info, badInput("calibration file %s: no text", path)
	}
	info.Bytes = counted.n
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	info.Documents = len(docs)
	return docs, info, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readJSONDocs reads JSON lines or a JSON array of records or strings.
func readJSONDocs(r *bufio.Reader, path string) ([]string, error) {
	first, err := peekNonSpace(r)
	if err != nil {
		return nil, badInput("calibration file %s: empty", path)
	}
	var docs []string
	if first == '[' {
		dec := json.NewDecoder(r)
		var arr []json.RawMessage
		if err := dec.Decode(&arr); err != nil {
			return nil, badInput("calibration file %s: not a JSON array: %v", path, err)
		}
		for i, raw := range arr {
			d, err := docText(raw)
			if err != nil {
				return nil, badInput("calibration file %s: element %d: %v", path, i, err)
			}
			docs = append(docs, d)
		}
		return docs, nil
	}
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if t := bytes.TrimSpace(b); len(t) > 0 {
				d, derr := docText(t)
				if derr != nil {
					return nil, badInput("calibration file %s: line %d: %v", path, line, derr)
				}
				docs = append(docs, d)
			}
		}
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, badInput("calibration file %s: line %d: %v", path, line+1, err)
		}
	}
}

func peekNonSpace(r *bufio.Reader) (byte, error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b == 0xEF { // UTF-8 byte-order mark
			if p, _ := r.Peek(2); len(p) == 2 && p[0] == 0xBB && p[1] == 0xBF {
				_, _ = r.Discard(2)
				continue
			}
		}
		if !unicode.IsSpace(rune(b)) {
			return b, r.UnreadByte()
		}
	}
}

// docText extracts the text of one JSON record.
func docText(raw []byte) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return "", fmt.Errorf("not a JSON object or string: %v", err)
	}
	for _, k := range []string{"text", "page", "content"} {
		if v, ok := rec[k]; ok {
			if err := json.Unmarshal(v, &s); err != nil {
				return "", fmt.Errorf("field %q is not a string", k)
			}
			return s, nil
		}
	}
	return "", errors.New(`no "text", "page" or "content" string field`)
}

// readRawDoc joins WikiText's lines (each with its newline) with " ", as
// GPTQ's loader joins the rows of the Hugging Face wikitext dataset.
func readRawDoc(r *bufio.Reader, path string) ([]string, error) {
	var sb strings.Builder
	first := true
	for {
		line, err := r.ReadString('\n')
		if len(line) > 0 {
			if !first {
				sb.WriteByte(' ')
			}
			first = false
			sb.WriteString(line)
			if sb.Len() > maxDocBytes {
				return nil, badInput("calibration file %s: exceeds %d bytes", path, maxDocBytes)
			}
		}
		if err == io.EOF {
			return []string{sb.String()}, nil
		}
		if err != nil {
			return nil, badInput("calibration file %s: %v", path, err)
		}
	}
}

// tokenSlack bounds how many more tokens than UTF-8 bytes a tokenizer can
// produce for one text (special tokens; SentencePiece's dummy prefix). A
// document of b bytes has at most b+tokenSlack tokens, so shorter ones can
// be rejected without tokenizing them.
const tokenSlack = 8

// Sample draws the calibration set from docs as cfg.Sampling says (see
// SampleWindow, SampleConcat, SampleTruncate), tokenizing with tok. It
// returns an error wrapping ErrBadInput when the text cannot supply the
// requested samples.
func Sample(docs []string, tok Tokenizer, sampling string, nsamples, seqlen int, seed int64) (*Calibration, error) {
	c := &Calibration{Sampling: sampling, NSamples: nsamples, Seqlen: seqlen, Seed: seed}
	if nsamples < 1 || seqlen < 1 {
		return nil, badInput("calibration: %d samples of %d tokens", nsamples, seqlen)
	}
	var err error
	switch sampling {
	case SampleWindow:
		err = c.sampleWindows(docs, tok)
	case SampleConcat:
		err = c.sampleConcat(docs, tok)
	case SampleTruncate:
		err = c.sampleTruncate(docs, tok)
	default:
		err = badInput("calibration sampling %q unknown", sampling)
	}
	if err != nil {
		return nil, err
	}
	for _, s := range c.Samples {
		c.Tokens += len(s)
	}
	return c, nil
}

// sampleWindows is GPTQ's get_c4 / get_wikitext2: Python's random seeded
// with the seed; per sample, documents drawn with randint until one has more
// than seqlen tokens, then a window start drawn with randint.
func (c *Calibration) sampleWindows(docs []string, tok Tokenizer) error {
	n, seqlen := c.NSamples, c.Seqlen
	// Rule out hopeless requests before tokenizing anything.
	var total int64
	for _, d := range docs {
		if len(d)+tokenSlack > seqlen {
			total += int64(len(d))
		}
	}
	if total == 0 {
		return badInput("calibration: no document can hold a window of %d tokens (the longest has %d bytes)", seqlen, longest(docs))
	}
	if total < int64(n)*int64(seqlen) {
		return badInput("calibration: too little text for %d samples × %d tokens: the documents long enough hold %d bytes", n, seqlen, total)
	}
	rng := pyrand.New(c.Seed)
	cache := map[int][]int{}
	encode := func(i int) []int {
		if ids, ok := cache[i]; ok {
			return ids
		}
		var ids []int
		if len(docs[i])+tokenSlack > seqlen {
			ids = tok.Encode(docs[i], true)
		}
		cache[i] = ids
		return ids
	}
	if len(docs) == 1 {
		ids := encode(0)
		if len(ids) <= seqlen {
			return badInput("calibration: the text has %d tokens, a window needs more than %d", len(ids), seqlen)
		}
		if len(ids) < n*seqlen {
			return badInput("calibration: too little text for %d samples × %d tokens: %d tokens", n, seqlen, len(ids))
		}
		for range n {
			i, _ := rng.Randint(0, len(ids)-seqlen-1) // len(ids) > seqlen
			c.add(0, i, ids[i:i+seqlen])
		}
		return nil
	}
	long := map[int]bool{} // documents known to hold a window
	for range n {
		var ids []int
		var d int
		for tries := 0; ; tries++ {
			d, _ = rng.Randint(0, len(docs)-1) // docs is not empty
			ids = encode(d)
			if len(ids) > seqlen {
				long[d] = true
				break
			}
			// The reference loops forever when no document is long
			// enough; give up once every candidate has been tokenized.
			if len(long) == 0 && tries > 0 && tries%len(docs) == 0 && allCandidatesSeen(docs, cache, seqlen) {
				return badInput("calibration: no document has more than %d tokens", seqlen)
			}
		}
		i, _ := rng.Randint(0, len(ids)-seqlen-1) // len(ids) > seqlen
		c.add(d, i, ids[i:i+seqlen])
	}
	return nil
}

func allCandidatesSeen(docs []string, cache map[int][]int, seqlen int) bool {
	for i, d := range docs {
		if len(d)+tokenSlack > seqlen {
			if _, ok := cache[i]; !ok {
				return false
			}
		}
	}
	return true
}

func longest(docs []string) int {
	m := 0
	for _, d := range docs {
		m = max(m, len(d))
	}
	return m
}

func (c *Calibration) add(doc, start int, ids []int) {
	c.Samples = append(c.Samples, slicesClone(ids))
	c.Windows = append(c.Windows, Window{Doc: doc, Start: start, Len: len(ids)})
}

func slicesClone(s []int) []int { return append([]int(nil), s...) }

// shuffled returns a permutation of [0, n) from the seed (gollm's own
// generator: the reference shuffles with the datasets library's NumPy
// generator, which is not reproduced).
func shuffled(n int, seed int64) []int {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	return r.Perm(n)
}

// sampleConcat is AWQ's get_calib_dataset: shuffled documents, stripped,
// tokenized; those longer than seqlen tokens or empty are skipped; the
// first nsamples kept are concatenated and cut into seqlen-token blocks.
func (c *Calibration) sampleConcat(docs []string, tok Tokenizer) error {
	var cat []int
	for _, d := range shuffled(len(docs), c.Seed) {
		text := strings.TrimSpace(docs[d])
		if len(text) == 0 {
			continue
		}
		ids := tok.Encode(text, true)
		if len(ids) == 0 || len(ids) > c.Seqlen {
			continue
		}
		cat = append(cat, ids...)
		c.DocsUsed++
		if c.DocsUsed == c.NSamples {
			break
		}
	}
	blocks := len(cat) / c.Seqlen
	if blocks == 0 {
		return badInput("calibration: too little text: %d documents of at most %d tokens hold %d tokens, less than one block of %d", c.DocsUsed, c.Seqlen, len(cat), c.Seqlen)
	}
	for b := range blocks {
		c.add(-1, b*c.Seqlen, cat[b*c.Seqlen:(b+1)*c.Seqlen])
	}
	return nil
}

// sampleTruncate is SmoothQuant's calibration: shuffled documents, the
// first seqlen tokens of each of the first nsamples.
func (c *Calibration) sampleTruncate(docs []string, tok Tokenizer) error {
	if len(docs) < c.NSamples {
		return badInput("calibration: too little text: %d documents for %d samples", len(docs), c.NSamples)
	}
	for _, d := range shuffled(len(docs), c.Seed)[:c.NSamples] {
		ids := tok.Encode(docs[d], true)
		if len(ids) > c.Seqlen {
			ids = ids[:c.Seqlen]
		}
		if len(ids) == 0 {
			continue
		}
		c.add(d, 0, ids)
	}
	if len(c.Samples) == 0 {
		return badInput("calibration: every sampled document is empty")
	}
	return nil
}
