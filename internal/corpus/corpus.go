// Package corpus reads the text files gollm calibrates and fine-tunes on into
// documents: C4-style JSON lines (optionally gzipped, as the C4 shards are),
// JSON arrays, WikiText .raw files and plain text. Compression methods'
// calibration (--calib) and LLM-Pruner's LoRA recovery data (--lora-data)
// read through Read; the evaluation tasks read their own record formats
// (eval's readers) and training reads whole files as one stream. Sample
// draws a compression method's calibration set from the documents (the
// GPTQ, AWQ, SmoothQuant and LLM-Pruner loaders, Python-compatible where the
// reference is); Sampler draws the random token windows that training and
// LoRA recovery fit.
package corpus

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
	"os"
	"strings"
	"unicode"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/textcheck"
)

// File describes one file as it was read (recorded with a compression run).
type File struct {
	Path      string `json:"path"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"`
	Documents int    `json:"documents"`
}

// Split says how a text file that is not JSON becomes documents.
type Split int

const (
	// Whole: a text file is one document; a WikiText .raw file is its lines
	// (each with its newline) joined with " " into one document, as GPTQ's
	// WikiText loader joins the dataset rows; the records of a JSON file
	// whose name contains "wikitext" are joined likewise. GPTQ, AWQ,
	// SmoothQuant and OmniQuant calibrate this way.
	Whole Split = iota
	// Lines: every non-empty line of a text or .raw file, trimmed of white
	// space, is one document, as BookCorpus's rows are lines (LLM-Pruner).
	Lines
)

// MaxDocBytes bounds one document (a C4 document is a few kilobytes;
// WikiText-103 joined is about 540 MB); a file is read up to 16 times that.
const MaxDocBytes = 1 << 30

// Read reads the files, in order, into documents:
//   - JSON (.jsonl, .json, optionally .gz): one document per line, the
//     string field "text" (C4), "page" (lm-eval WikiText) or "content", or a
//     bare JSON string; a file that starts with '[' is a JSON array of such
//     records;
//   - any other file (optionally .gz): as split says.
//
// A file without any non-blank text is an error. Errors wrap
// badinput.ErrBadInput and name the file. The whole text is held in memory.
func Read(paths []string, split Split) ([]string, []File, error) {
	var docs []string
	var files []File
	for _, p := range paths {
		d, f, err := readFile(p, split)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, d...)
		files = append(files, f)
	}
	return docs, files, nil
}

func badFile(path, format string, args ...any) error {
	return badinput.Errorf("calibration file %s: %s", path, fmt.Sprintf(format, args...))
}

func readFile(path string, split Split) (docs []string, info File, err error) {
	info.Path = path
	f, err := os.Open(path)
	if err != nil {
		return nil, info, badFile(path, "%v", errors.Unwrap(err))
	}
	defer f.Close()
	h := sha256.New()
	counted := &countReader{r: io.TeeReader(f, h)}
	var r io.Reader = bufio.NewReaderSize(counted, 1<<20)
	name := strings.ToLower(path)
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, info, badFile(path, "not gzip: %v", err)
		}
		defer gz.Close()
		r = gz
		name = strings.TrimSuffix(name, ".gz")
	}
	r = textcheck.NewReader(r) // binary data is refused with its offset
	br := bufio.NewReaderSize(io.LimitReader(r, 16*MaxDocBytes), 1<<20)
	switch {
	case strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json"):
		docs, err = readJSON(br, path)
	case split == Lines:
		docs, err = readLines(br, path)
	case strings.HasSuffix(name, ".raw"):
		docs, err = readRaw(br, path)
	default:
		var b []byte
		b, err = io.ReadAll(io.LimitReader(br, MaxDocBytes+1))
		if err == nil && len(b) > MaxDocBytes {
			err = badFile(path, "a text file is one document, and it exceeds %d bytes", MaxDocBytes)
		}
		if err == nil {
			docs = []string{string(b)}
		}
	}
	if err != nil {
		if !badinput.Is(err) {
			err = badFile(path, "%v", err)
		}
		return nil, info, err
	}
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return nil, info, badFile(path, "%v", err)
	}
	if split == Whole && strings.Contains(strings.ToLower(path), "wikitext") && len(docs) > 1 {
		docs = []string{strings.Join(docs, " ")}
	}
	n := 0
	for _, d := range docs {
		if strings.TrimFunc(d, unicode.IsSpace) != "" {
			n++
		}
	}
	if n == 0 {
		return nil, info, badFile(path, "no text")
	}
	info.Bytes = counted.n
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	info.Documents = len(docs)
	return docs, info, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readJSON reads JSON lines or a JSON array of records or strings.
func readJSON(r *bufio.Reader, path string) ([]string, error) {
	first, err := peekNonSpace(r)
	if err == io.EOF {
		return nil, badFile(path, "empty")
	}
	if err != nil {
		return nil, badFile(path, "%v", err)
	}
	var docs []string
	if first == '[' {
		dec := json.NewDecoder(r)
		var arr []json.RawMessage
		if err := dec.Decode(&arr); err != nil {
			return nil, badFile(path, "not a JSON array: %v", err)
		}
		for i, raw := range arr {
			d, err := docText(raw)
			if err != nil {
				return nil, badFile(path, "element %d: %v", i, err)
			}
			docs = append(docs, d)
		}
		return docs, nil
	}
	err = eachLine(r, path, func(line int, b []byte) error {
		d, err := docText(b)
		if err != nil {
			return badFile(path, "line %d: %v", line, err)
		}
		docs = append(docs, d)
		return nil
	})
	return docs, err
}

// readLines returns the non-empty lines, trimmed of white space.
func readLines(r *bufio.Reader, path string) ([]string, error) {
	var docs []string
	err := eachLine(r, path, func(line int, b []byte) error {
		if len(b) > MaxDocBytes {
			return badFile(path, "line %d exceeds %d bytes", line, MaxDocBytes)
		}
		docs = append(docs, string(b))
		return nil
	})
	return docs, err
}

// eachLine calls fn with every line of r that is not blank, trimmed of
// white space, and its 1-based number.
func eachLine(r *bufio.Reader, path string, fn func(line int, b []byte) error) error {
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if t := bytes.TrimSpace(b); len(t) > 0 {
				if ferr := fn(line, t); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return badFile(path, "line %d: %v", line+1, err)
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

// readRaw joins WikiText's lines (each with its newline) with " ".
func readRaw(r *bufio.Reader, path string) ([]string, error) {
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
			if sb.Len() > MaxDocBytes {
				return nil, badFile(path, "exceeds %d bytes", MaxDocBytes)
			}
		}
		if err == io.EOF {
			return []string{sb.String()}, nil
		}
		if err != nil {
			return nil, badFile(path, "%v", err)
		}
	}
}
