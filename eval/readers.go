package eval

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/llmcbench/gollm/internal/textcheck"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// readOptions says how to read a delimited text file; other formats ignore it.
type readOptions struct {
	// NoHeader: the file has no header row; Columns names its fields
	// (Hendrycks' MMLU CSVs).
	NoHeader bool
	Columns  []string
	// NoQuotes: split lines on the separator only, with no quote handling
	// (MultiNLI's .txt releases, read as the GLUE processors read them).
	NoQuotes bool
}

// formatOf returns the reader for a path from its extension: parquet, jsonl,
// json (an array, one object, or concatenated objects), csv, tsv, or lines
// for raw text releases. A trailing .gz is decompressed.
func formatOf(path string) string {
	p := strings.ToLower(strings.TrimSuffix(strings.ToLower(path), ".gz"))
	switch {
	case strings.HasSuffix(p, ".parquet"):
		return "parquet"
	case strings.HasSuffix(p, ".jsonl"):
		return "jsonl"
	case strings.HasSuffix(p, ".json"):
		return "json"
	case strings.HasSuffix(p, ".csv"):
		return "csv"
	case strings.HasSuffix(p, ".tsv"), strings.HasSuffix(p, ".txt"):
		return "tsv"
	case strings.HasSuffix(p, ".raw"), strings.HasSuffix(p, ".tokens"):
		return "lines"
	}
	return ""
}

// openMaybeGzip opens path, decompressing it when its name ends in .gz.
func openMaybeGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	if !strings.HasSuffix(strings.ToLower(path), ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, badInput(path, "not a gzip file: %v", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

// fileErr turns an open/read failure into a bad-input error when the file is
// missing or unreadable, which is what the user has to fix.
func fileErr(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return badInput(path, "file not found")
	}
	if errors.Is(err, os.ErrPermission) {
		return badInput(path, "permission denied")
	}
	return fmt.Errorf("eval: %s: %w", path, err)
}

// readRecords reads every record of a data file in any supported format.
func readRecords(path string, opt readOptions) ([]record, error) {
	var parse func(r io.Reader) ([]record, error)
	switch formatOf(path) {
	case "parquet":
		return readParquet(path)
	case "jsonl":
		parse = func(r io.Reader) ([]record, error) { return parseJSONL(r, path) }
	case "json":
		parse = func(r io.Reader) ([]record, error) { return parseJSON(r, path) }
	case "csv":
		parse = func(r io.Reader) ([]record, error) { return parseDelimited(r, path, ',', opt) }
	case "tsv":
		parse = func(r io.Reader) ([]record, error) { return parseDelimited(r, path, '\t', opt) }
	default:
		return nil, badInput(path, "unsupported file type (want .parquet, .jsonl, .json, .csv, .tsv, .txt, optionally .gz)")
	}
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return parse(rc)
}

// parseJSONL reads one JSON object per line; blank lines are skipped.
func parseJSONL(r io.Reader, path string) ([]record, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var out []record
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			fields, perr := decodeObject(b)
			if perr != nil {
				return nil, badInput(path, "line %d: %v", line, perr)
			}
			out = append(out, record{File: path, Row: line, Fields: fields})
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, badInput(path, "line %d: read: %v", line, err)
		}
	}
}

// decodeObject decodes one JSON object with numbers kept exact.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", describe(v))
	}
	return m, nil
}

// parseJSON reads a .json file: a top-level array of objects, or a sequence
// of objects (JSON lines saved as .json, as many Hugging Face datasets and the
// C4 shards are). A file holding one object yields one record.
func parseJSON(r io.Reader, path string) ([]record, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	dec.UseNumber()
	var out []record
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, badInput(path, "value %d: invalid JSON: %v", len(out)+1, err)
		}
		switch x := v.(type) {
		case map[string]any:
			out = append(out, record{File: path, Row: len(out) + 1, Fields: x})
		case []any:
			for i, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, badInput(path, "element %d: want a JSON object, got %s", i+1, describe(e))
				}
				out = append(out, record{File: path, Row: len(out) + 1, Fields: m})
			}
		default:
			return nil, badInput(path, "value %d: want a JSON object or array, got %s", len(out)+1, describe(v))
		}
	}
}

// parseDelimited reads a CSV or TSV file. With quotes (the default) a field
// that starts with a double quote runs to the closing quote, across
// separators and newlines, and "" is a literal quote, as pandas.read_csv
// and Python's csv module read them; stray quotes inside unquoted fields
// are kept. Every row must have as many fields as the header.
func parseDelimited(r io.Reader, path string, comma rune, opt readOptions) ([]record, error) {
	next, lineOf := delimitedRows(r, comma, opt.NoQuotes)
	var header []string
	if opt.NoHeader {
		header = opt.Columns
	} else {
		h, err := next()
		if err == io.EOF {
			return nil, badInput(path, "empty file (want a header row)")
		}
		if err != nil {
			return nil, badInput(path, "line %d: %v", lineOf(), err)
		}
		header = append([]string(nil), h...)
		if len(header) > 0 {
			header[0] = strings.TrimPrefix(header[0], "\ufeff")
		}
	}
	var out []record
	for {
		fields, err := next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, badInput(path, "line %d: %v", lineOf(), err)
		}
		if len(fields) == 1 && fields[0] == "" {
			continue // blank line
		}
		if len(fields) != len(header) {
			return nil, badInput(path, "line %d: %d fields, header has %d (unbalanced quotes or a stray separator?)", lineOf(), len(fields), len(header))
		}
		m := make(map[string]any, len(header))
		for i, h := range header {
			m[h] = fields[i]
		}
		out = append(out, record{File: path, Row: lineOf(), Fields: m})
	}
}

// delimitedRows returns an iterator over the rows of a delimited file and a
// function giving the line on which the last row started.
func delimitedRows(r io.Reader, comma rune, noQuotes bool) (func() ([]string, error), func() int) {
	if noQuotes {
		br := bufio.NewReaderSize(r, 1<<20)
		line := 0
		sep := string(comma)
		return func() ([]string, error) {
				s, err := br.ReadString('\n')
				if err == io.EOF && s == "" {
					return nil, io.EOF
				}
				if err != nil && err != io.EOF {
					return nil, err
				}
				line++
				s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
				return strings.Split(s, sep), nil
			}, func() int {
				return line
			}
	}
	cr := csv.NewReader(r)
	cr.Comma = comma
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	line := 0
	return func() ([]string, error) {
			rec, err := cr.Read()
			if err == nil && len(rec) > 0 {
				line, _ = cr.FieldPos(0)
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					line = pe.StartLine
					return nil, pe.Err
				}
			}
			return rec, err
		}, func() int {
			return line
		}
}

// readLines reads a raw text release (wiki.test.raw) as Hugging Face's
// loader does: one row per line with its "\n" kept, rows that are only
// whitespace become "".
func readLines(path string) ([]string, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(textcheck.NewReader(rc), 1<<20) // binary data is refused with its offset
	var out []string
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			if strings.TrimFunc(s, pyIsSpace) == "" {
				s = ""
			}
			out = append(out, s)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, badInput(path, "read: %v", err)
		}
	}
}

// readParquet reads every row of a parquet file into records. Nested
// columns come back as map[string]any, lists as []any (the LIST wrapper
// groups are removed whatever their element name).
func readParquet(path string) (recs []record, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fileErr(path, err)
	}
	if err := checkParquetFooter(f, st.Size()); err != nil {
		return nil, badInput(path, "not a parquet file: %v", err)
	}
	// The library may panic on a corrupt file; report it as bad input.
	defer func() {
		if p := recover(); p != nil {
			recs, err = nil, badInput(path, "corrupt parquet file: %v", p)
		}
	}()
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, badInput(path, "not a parquet file: %v", err)
	}
	if err := checkParquetPages(f, st.Size(), pf.Metadata()); err != nil {
		return nil, badInput(path, "corrupt parquet file: %v", err)
	}
	schema := pf.Schema()
	rd := parquet.NewReader(pf)
	defer rd.Close()
	buf := make([]parquet.Row, 64)
	row := 0
	for {
		n, rerr := rd.ReadRows(buf)
		for i := 0; i < n; i++ {
			row++
			var v any
			if err := schema.Reconstruct(&v, buf[i]); err != nil {
				return nil, badInput(path, "row %d: %v", row, err)
			}
			m, ok := normalizeParquet(v, schema).(map[string]any)
			if !ok {
				return nil, badInput(path, "row %d: not a record", row)
			}
			recs = append(recs, record{File: path, Row: row, Fields: m})
		}
		if rerr == io.EOF {
			return recs, nil
		}
		if rerr != nil {
			return nil, badInput(path, "row %d: %v", row+1, rerr)
		}
	}
}

// checkParquetFooter checks the magic bytes and that the footer length
// fits in the file, before parquet-go allocates a buffer of that length.
func checkParquetFooter(f io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var head [4]byte
	var tail [8]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return err
	}
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return errors.New("missing PAR1 magic bytes (encrypted or not parquet)")
	}
	footer := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footer > size-12 {
		return fmt.Errorf("footer length %d exceeds the file size %d", footer, size)
	}
	return nil
}

// maxParquetPage bounds the uncompressed size of one page; real pages are
// around a megabyte.
const maxParquetPage = 1 << 30

// checkParquetPages walks the page headers of every column chunk and checks
// that each page lies inside its chunk and the chunk inside the file. The
// library trusts these sizes and allocates them, so a corrupt file could
// otherwise ask for gigabytes.
func checkParquetPages(f io.ReaderAt, size int64, md *format.FileMetaData) error {
	var proto thrift.CompactProtocol
	for g, rg := range md.RowGroups {
		for c, cc := range rg.Columns {
			m := cc.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			end := start + m.TotalCompressedSize
			if start < 4 || m.TotalCompressedSize < 0 || end > size || end < start {
				return fmt.Errorf("row group %d column %d: chunk [%d, %d) outside the file of %d bytes", g, c, start, end, size)
			}
			for pos := start; pos < end; {
				var h format.PageHeader
				var hl int64
				for window := int64(1 << 12); ; window *= 8 {
					buf := make([]byte, min(window, end-pos))
					if _, err := f.ReadAt(buf, pos); err != nil && err != io.EOF {
						return err
					}
					r := proto.NewReaderFromBytes(buf)
					err := thrift.NewDecoder(r).Decode(&h)
					if err == nil {
						hl = int64(r.BytesRead())
						break
					}
					if int64(len(buf)) == end-pos || window >= 1<<24 {
						return fmt.Errorf("row group %d column %d: page header at %d: %v", g, c, pos, err)
					}
				}
				if h.CompressedPageSize < 0 || h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxParquetPage ||
					pos+hl+int64(h.CompressedPageSize) > end {
					return fmt.Errorf("row group %d column %d: page at %d claims %d bytes (%d uncompressed) in a chunk ending at %d",
						g, c, pos, h.CompressedPageSize, h.UncompressedPageSize, end)
				}
				pos += hl + int64(h.CompressedPageSize)
			}
		}
	}
	return nil
}

// normalizeParquet converts values reconstructed by parquet-go to the
// shapes JSON decoding gives: LIST groups become []any, byte strings
// become strings.
func normalizeParquet(v any, node parquet.Node) any {
	if node != nil && isListNode(node) {
		return normalizeList(v, node)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var child parquet.Node
			if node != nil && !node.Leaf() {
				for _, f := range node.Fields() {
					if f.Name() == k {
						child = f
						break
					}
				}
			}
			out[k] = normalizeParquet(e, child)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeParquet(e, nil)
		}
		return out
	case []byte:
		return string(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}

// isListNode reports whether node is a group annotated as LIST.
func isListNode(node parquet.Node) bool {
	if node.Leaf() {
		return false
	}
	lt := node.Type().LogicalType()
	if lt == nil {
		return false
	}
	_, ok := lt.Value.(*format.ListType)
	return ok
}

// normalizeList unwraps the three-level LIST encoding
// (group (LIST) { repeated group list { element } }) into []any.
func normalizeList(v any, node parquet.Node) any {
	var elemNode parquet.Node
	if fs := node.Fields(); len(fs) == 1 {
		rep := fs[0]
		if !rep.Leaf() && len(rep.Fields()) == 1 {
			elemNode = rep.Fields()[0]
		}
	}
	unwrap := func(e any) any {
		if m, ok := e.(map[string]any); ok && len(m) == 1 {
			for _, inner := range m {
				return normalizeParquet(inner, elemNode)
			}
		}
		return normalizeParquet(e, elemNode)
	}
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unwrap(e)
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for _, inner := range x {
				if list, ok := inner.([]any); ok {
					out := make([]any, len(list))
					for i, e := range list {
						out[i] = unwrap(e)
					}
					return out
				}
				if inner == nil {
					return []any{}
				}
			}
		}
	}
	return normalizeParquet(v, nil)
}
