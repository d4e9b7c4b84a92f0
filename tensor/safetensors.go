package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/internal/badinput"
)

// MaxHeaderSize bounds the JSON header of a safetensors file (the reference
// implementation's limit is 100 MB).
const MaxHeaderSize = 100 << 20

// ErrFormat marks malformed input files; errors.Is(err, ErrFormat) tells bad
// input (exit code 2) from I/O failures.
var ErrFormat = badinput.New("bad file")

// Info describes one tensor in a safetensors header.
type Info struct {
	DType DType
	Shape []int
	// Begin and End are byte offsets into the data section.
	Begin, End int64
}

// File is an open safetensors file. Its data section is memory-mapped (or,
// where mmap is unavailable, read on demand), so opening a 13 GB checkpoint
// costs only its header; tensors are handed out lazily as views.
type File struct {
	Path     string
	Metadata map[string]string
	infos    map[string]Info
	names    []string // in data-offset order
	data     []byte   // the data section (mapped)
	mapping  []byte   // the whole mapping, for Close
	file     *os.File
	dataOff  int64
}

// ParseHeader validates a safetensors header (the JSON after the 8-byte
// length) against a data section of dataLen bytes. It checks dtypes,
// shapes, offsets inside the data, and that no two tensors overlap.
func ParseHeader(header []byte, dataLen int64) (map[string]Info, map[string]string, []string, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: header is not a JSON object: %v", ErrFormat, err)
	}
	// The format lets writers pad the header for alignment with trailing
	// whitespace (0x20; the reference reader, serde_json, takes any JSON
	// whitespace); anything else after the object, NUL bytes included, the
	// reference reader refuses as trailing characters, and so does gollm.
	if rest := header[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		i := int(dec.InputOffset()) + len(rest) - len(bytes.TrimLeft(rest, " \t\r\n"))
		return nil, nil, nil, fmt.Errorf("%w: header has byte 0x%02x after its JSON object at header offset %d (only whitespace padding is allowed)", ErrFormat, header[i], i)
	}
	infos := make(map[string]Info, len(raw))
	var meta map[string]string
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, nil, fmt.Errorf("%w: __metadata__ must map strings to strings: %v", ErrFormat, err)
			}
			continue
		}
		var e struct {
			DType   string          `json:"dtype"`
			Shape   []json.Number   `json:"shape"`
			Offsets []json.Number   `json:"data_offsets"`
			Extra   json.RawMessage `json:"-"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		dt, err := ParseDType(e.DType)
		if err != nil || dt == Invalid {
			return nil, nil, nil, fmt.Errorf("%w: tensor %q: unknown dtype %q", ErrFormat, name, e.DType)
		}
		if len(e.Offsets) != 2 {
			return nil, nil, nil, fmt.Errorf("%w: tensor %q: data_offsets must have 2 entries", ErrFormat, name)
		}
		info := Info{DType: dt, Shape: make([]int, len(e.Shape))}
		numel := int64(1)
		for i, s := range e.Shape {
			v, err := strconv.ParseInt(s.String(), 10, 64)
			if err != nil || v < 0 || v > math.MaxInt32*int64(1024) {
				return nil, nil, nil, fmt.Errorf("%w: tensor %q: bad shape entry %s", ErrFormat, name, s)
			}
			info.Shape[i] = int(v)
			if v != 0 && numel > math.MaxInt64/v/8 {
				return nil, nil, nil, fmt.Errorf("%w: tensor %q: shape %v overflows", ErrFormat, name, e.Shape)
			}
			numel *= v
		}
		for i, o := range e.Offsets {
			v, err := strconv.ParseInt(o.String(), 10, 64)
			if err != nil || v < 0 {
				return nil, nil, nil, fmt.Errorf("%w: tensor %q: bad data offset %s", ErrFormat, name, o)
			}
			if i == 0 {
				info.Begin = v
			} else {
				info.End = v
			}
		}
		if info.End < info.Begin || info.End > dataLen {
			return nil, nil, nil, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] outside the %d-byte data section", ErrFormat, name, info.Begin, info.End, dataLen)
		}
		if want := numel * int64(dt.Size()); info.End-info.Begin != want {
			return nil, nil, nil, fmt.Errorf("%w: tensor %q: %s%v needs %d bytes, data_offsets give %d", ErrFormat, name, dt, info.Shape, want, info.End-info.Begin)
		}
		infos[name] = info
	}
	names := make([]string, 0, len(infos))
	for n := range infos {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := infos[names[i]], infos[names[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return names[i] < names[j]
	})
	for i := 1; i < len(names); i++ {
		prev, cur := infos[names[i-1]], infos[names[i]]
		if cur.Begin < prev.End {
			return nil, nil, nil, fmt.Errorf("%w: tensors %q and %q overlap", ErrFormat, names[i-1], names[i])
		}
	}
	return infos, meta, names, nil
}

// Open opens a safetensors file and validates its header. The data section
// is memory-mapped read-only; nothing else is read until a tensor is used.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badinput.Missing(fmt.Errorf("safetensors %s: %w", path, err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: %w: is a folder, not a file", path, ErrFormat)
	}
	sf, err := openFile(f, path, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

func openFile(f *os.File, path string, size int64) (*File, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("safetensors %s: %w: %s", path, ErrFormat, fmt.Sprintf(format, args...))
	}
	if size < 8 {
		return nil, bad("file is %d bytes, shorter than the 8-byte header length (truncated?)", size)
	}
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > MaxHeaderSize {
		return nil, bad("header length %d exceeds the %d-byte limit", hlen, MaxHeaderSize)
	}
	if int64(hlen) > size-8 {
		return nil, bad("header length %d runs past the end of the %d-byte file (truncated?)", hlen, size)
	}
	header := make([]byte, hlen)
	if _, err := f.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	dataOff := 8 + int64(hlen)
	infos, meta, names, err := ParseHeader(header, size-dataOff)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	sf := &File{Path: path, Metadata: meta, infos: infos, names: names, file: f, dataOff: dataOff}
	if size > dataOff {
		if m, err := mmapFile(f, size); err == nil {
			sf.mapping = m
			sf.data = m[dataOff:]
		}
	}
	return sf, nil
}

// Names lists the tensors in data-offset order.
func (f *File) Names() []string { return f.names }

// Info returns the header entry for name.
func (f *File) Info(name string) (Info, bool) {
	i, ok := f.infos[name]
	return i, ok
}

// Tensor returns name as a view into the mapped file (no copy).
func (f *File) Tensor(name string) (*Tensor, error) {
	info, ok := f.infos[name]
	if !ok {
		return nil, fmt.Errorf("safetensors %s: tensor %q: %w: not in the file", f.Path, name, ErrFormat)
	}
	t := &Tensor{Name: name, DType: info.DType, Shape: info.Shape}
	if f.data != nil {
		t.Data = f.data[info.Begin:info.End:info.End]
		return t, nil
	}
	t.Data = make([]byte, info.End-info.Begin)
	if _, err := f.file.ReadAt(t.Data, f.dataOff+info.Begin); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("safetensors %s: tensor %q: %w", f.Path, name, err)
	}
	return t, nil
}

// Close unmaps and closes the file. Tensors handed out become invalid.
func (f *File) Close() error {
	if f.mapping != nil {
		munmapFile(f.mapping)
		f.mapping, f.data = nil, nil
	}
	return f.file.Close()
}

// Checkpoint is a model's weights: one safetensors file, or several shards
// listed in model.safetensors.index.json.
type Checkpoint struct {
	Dir   string
	files []*File
	where map[string]*File
	names []string
}

// OpenCheckpoint opens the weights in dir: model.safetensors.index.json with
// its shards, else model.safetensors, else every *.safetensors file in dir.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	c := &Checkpoint{Dir: dir, where: map[string]*File{}}
	idxPath := filepath.Join(dir, "model.safetensors.index.json")
	var shards []string
	var weightMap map[string]string
	if b, err := os.ReadFile(idxPath); err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("safetensors index %s: %w: %v", idxPath, ErrFormat, err)
		}
		if len(idx.WeightMap) == 0 {
			return nil, fmt.Errorf("safetensors index %s: %w: empty weight_map", idxPath, ErrFormat)
		}
		weightMap = idx.WeightMap
		seen := map[string]bool{}
		for _, s := range idx.WeightMap {
			if strings.Contains(s, "/") || strings.Contains(s, `\`) || s == ".." {
				return nil, fmt.Errorf("safetensors index %s: %w: shard name %q is not a plain file name", idxPath, ErrFormat, s)
			}
			if !seen[s] {
				seen[s] = true
				shards = append(shards, s)
			}
		}
		sort.Strings(shards)
	} else if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		shards = []string{"model.safetensors"}
	} else {
		m, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
		for _, p := range m {
			if filepath.Base(p) != "reference.safetensors" {
				shards = append(shards, filepath.Base(p))
			}
		}
		if len(shards) == 0 {
			return nil, fmt.Errorf("model %s: %w: no model.safetensors, model.safetensors.index.json or *.safetensors", dir, ErrFormat)
		}
	}
	for _, s := range shards {
		f, err := Open(filepath.Join(dir, s))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.files = append(c.files, f)
		for _, n := range f.names {
			if prev, dup := c.where[n]; dup {
				c.Close()
				return nil, fmt.Errorf("safetensors %s: %w: tensor %q also in %s", f.Path, ErrFormat, n, prev.Path)
			}
			c.where[n] = f
			c.names = append(c.names, n)
		}
	}
	for n, s := range weightMap {
		f, ok := c.where[n]
		if !ok {
			c.Close()
			return nil, fmt.Errorf("safetensors index %s: %w: tensor %q listed in %s is missing", idxPath, ErrFormat, n, s)
		}
		if filepath.Base(f.Path) != s {
			c.Close()
			return nil, fmt.Errorf("safetensors index %s: %w: tensor %q listed in %s but found in %s", idxPath, ErrFormat, n, s, filepath.Base(f.Path))
		}
	}
	sort.Strings(c.names)
	return c, nil
}

// Names lists every tensor name, sorted.
func (c *Checkpoint) Names() []string { return c.names }

// Has reports whether the checkpoint holds name.
func (c *Checkpoint) Has(name string) bool { _, ok := c.where[name]; return ok }

// Info returns the header entry of name.
func (c *Checkpoint) Info(name string) (Info, bool) {
	f, ok := c.where[name]
	if !ok {
		return Info{}, false
	}
	return f.Info(name)
}

// FileOf returns the path of the shard that holds name ("" if none does).
func (c *Checkpoint) FileOf(name string) string {
	if f, ok := c.where[name]; ok {
		return f.Path
	}
	return ""
}

// Tensor returns name as a lazy view into its shard.
func (c *Checkpoint) Tensor(name string) (*Tensor, error) {
	f, ok := c.where[name]
	if !ok {
		return nil, fmt.Errorf("model %s: tensor %q: %w: missing from the checkpoint", c.Dir, name, ErrFormat)
	}
	return f.Tensor(name)
}

// Files returns the open shards.
func (c *Checkpoint) Files() []*File { return c.files }

// Close closes every shard.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.files = nil
	return first
}

// WriteFile writes tensors to path in the safetensors format exactly as the
// reference writer lays it out: `__metadata__` first, tensors ordered by
// element size (largest first) then name, a compact JSON header padded with
// spaces to a multiple of 8 bytes. Reading a reference-written file and
// writing its tensors back gives the same bytes.
func WriteFile(path string, tensors []*Tensor, metadata map[string]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	if err := Write(f, tensors, metadata); err != nil {
		f.Close()
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	return nil
}

// Write writes tensors in the safetensors format to w (see WriteFile).
func Write(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	ts := append([]*Tensor(nil), tensors...)
	sort.SliceStable(ts, func(i, j int) bool {
		si, sj := ts[i].DType.Size(), ts[j].DType.Size()
		if si != sj {
			return si > sj
		}
		return ts[i].Name < ts[j].Name
	})
	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, metadata[k])
		}
		h.WriteByte('}')
		first = false
	}
	var off int64
	seen := map[string]bool{}
	for _, t := range ts {
		if seen[t.Name] {
			return fmt.Errorf("tensor %q written twice", t.Name)
		}
		seen[t.Name] = true
		if int64(len(t.Data)) != int64(t.Numel())*int64(t.DType.Size()) {
			return fmt.Errorf("tensor %q: %d bytes for %s%v", t.Name, len(t.Data), t.DType, t.Shape)
		}
		if !first {
			h.WriteByte(',')
		}
		first = false
		writeJSONString(&h, t.Name)
		fmt.Fprintf(&h, `:{"dtype":"%s","shape":[`, t.DType)
		for i, d := range t.Shape {
			if i > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+int64(len(t.Data)))
		off += int64(len(t.Data))
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(h.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}
