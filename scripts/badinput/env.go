package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/outdir"
)

// Env is the run's fixed context: the repository, the binary, and the shared
// read-only fixtures every case may read (never write).
type Env struct {
	Root string // repository root
	Bin  string // gollm binary
	Tmp  string // the run's temporary folder
	Base string // shared fixtures: Base/<model>, Base/eval, Base/calib
}

// models are the fixture checkpoints, by the short name cases use.
var fixtureModels = map[string]string{
	"llama3":  "testdata/llama3-tiny",
	"llama2":  "testdata/llama2-tiny",
	"opt":     "testdata/opt-tiny",
	"opt350":  "testdata/opt350-tiny",
	"chatglm": "testdata/chatglm3-tiny",
}

// prepare copies the fixtures into Base (without the large reference
// outputs) and makes one quantized checkpoint for the quantization_config
// cases.
func (e *Env) prepare() error {
	for name, src := range fixtureModels {
		if err := copyTree(filepath.Join(e.Root, src), filepath.Join(e.Base, name), func(rel string) bool {
			return rel != "reference.safetensors"
		}); err != nil {
			return err
		}
	}
	if err := copyTree(filepath.Join(e.Root, "testdata/eval"), filepath.Join(e.Base, "eval"), nil); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(e.Root, "testdata/calib"), filepath.Join(e.Base, "calib"), nil); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(e.Root, "tokenizer/testdata"), filepath.Join(e.Base, "tokenizers"), func(rel string) bool {
		return strings.HasSuffix(rel, ".tokenizer.json") || strings.HasSuffix(rel, ".tokenizer.model")
	}); err != nil {
		return err
	}
	// A GPTQ-format checkpoint (RTN, 4 bits, group 16) to damage.
	cmd := exec.Command(e.Bin, "compress", "--model", filepath.Join(e.Base, "llama3"), "--method", "rtn", "--group-size", "16",
		"--out", filepath.Join(e.Base, "llama3-rtn"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("making the quantized fixture: %v: %s", err, errb.String())
	}
	return nil
}

// copyTree copies the regular files under src to dst, those keep accepts
// (nil: all).
func copyTree(src, dst string, keep func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if keep != nil && !keep(rel) {
			return nil
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return outdir.CopyFile(src, dst)
}

// CaseCtx is one case's folder, where its setup builds the bad input.
type CaseCtx struct {
	*Env
	Dir string
}

// expand replaces $D (the case folder), $B (the shared fixtures) and $R
// (the repository) in args.
func (c *CaseCtx) expand(args []string) []string {
	out := make([]string, len(args))
	r := strings.NewReplacer("$D", c.Dir, "$B", c.Base, "$R", c.Root)
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}

// P is a path inside the case folder.
func (c *CaseCtx) P(rel string) string { return filepath.Join(c.Dir, rel) }

// Model copies fixture model name into the case folder as rel.
func (c *CaseCtx) Model(name, rel string) error {
	return copyTree(filepath.Join(c.Base, name), c.P(rel), nil)
}

// Copy copies a shared fixture file or folder (relative to Base) to rel.
func (c *CaseCtx) Copy(base, rel string) error {
	src := filepath.Join(c.Base, base)
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return copyTree(src, c.P(rel), nil)
	}
	return copyFile(src, c.P(rel))
}

// Write writes a file in the case folder.
func (c *CaseCtx) Write(rel string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(c.P(rel)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(c.P(rel), b, 0o644)
}

// Read reads a file of the case folder.
func (c *CaseCtx) Read(rel string) ([]byte, error) { return os.ReadFile(c.P(rel)) }

// Truncate cuts a case file to n bytes (n < 0: from the end).
func (c *CaseCtx) Truncate(rel string, n int64) error {
	st, err := os.Stat(c.P(rel))
	if err != nil {
		return err
	}
	if n < 0 {
		n += st.Size()
	}
	return os.Truncate(c.P(rel), n)
}

// TruncateFrac cuts a case file to frac of its size.
func (c *CaseCtx) TruncateFrac(rel string, frac float64) error {
	st, err := os.Stat(c.P(rel))
	if err != nil {
		return err
	}
	return os.Truncate(c.P(rel), int64(float64(st.Size())*frac))
}

// EditJSON rewrites a JSON object file through edit.
func (c *CaseCtx) EditJSON(rel string, edit func(m map[string]any)) error {
	b, err := c.Read(rel)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %v", rel, err)
	}
	edit(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return c.Write(rel, out)
}

// EditLines rewrites a text file line by line (return false to drop a line).
func (c *CaseCtx) EditLines(rel string, edit func(i int, line string) (string, bool)) error {
	b, err := c.Read(rel)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var out []string
	for i, l := range lines {
		if nl, keep := edit(i, l); keep {
			out = append(out, nl)
		}
	}
	return c.Write(rel, []byte(strings.Join(out, "\n")+"\n"))
}

// EditLine rewrites line n (0-based) of a text file through edit.
func (c *CaseCtx) EditLine(rel string, n int, edit func(line string) string) error {
	return c.EditLines(rel, func(i int, l string) (string, bool) {
		if i == n {
			return edit(l), true
		}
		return l, true
	})
}

// ReplaceInLine replaces the first old in line n (0-based) of a text file
// with new.
func (c *CaseCtx) ReplaceInLine(rel string, n int, old, new string) error {
	return c.EditLine(rel, n, func(l string) string { return strings.Replace(l, old, new, 1) })
}

// EditJSONL rewrites every object of a JSON-lines file through edit.
func (c *CaseCtx) EditJSONL(rel string, edit func(i int, m map[string]any)) error {
	return c.EditLines(rel, func(i int, l string) (string, bool) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			return l, true
		}
		edit(i, m)
		b, _ := json.Marshal(m)
		return string(b), true
	})
}

// stFile is a parsed safetensors file: its header and its data bytes.
type stFile struct {
	Header map[string]any
	Data   []byte
}

func readST(path string) (*stFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%s: bad header length", path)
	}
	var h map[string]any
	dec := json.NewDecoder(bytes.NewReader(b[8 : 8+n]))
	dec.UseNumber()
	if err := dec.Decode(&h); err != nil {
		return nil, err
	}
	return &stFile{Header: h, Data: b[8+n:]}, nil
}

func (s *stFile) bytes() []byte {
	h, _ := json.Marshal(s.Header)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(h)))
	b.Write(h)
	b.Write(s.Data)
	return b.Bytes()
}

// entry returns a tensor's header entry.
func (s *stFile) entry(name string) map[string]any {
	e, _ := s.Header[name].(map[string]any)
	return e
}

// offsets returns a tensor's data offsets.
func (s *stFile) offsets(name string) (int, int) {
	e := s.entry(name)
	o, _ := e["data_offsets"].([]any)
	if len(o) != 2 {
		return 0, 0
	}
	a, _ := o[0].(json.Number).Int64()
	b, _ := o[1].(json.Number).Int64()
	return int(a), int(b)
}

// names lists the tensors, sorted.
func (s *stFile) names() []string {
	var n []string
	for k := range s.Header {
		if k != "__metadata__" {
			n = append(n, k)
		}
	}
	sort.Strings(n)
	return n
}

// EditST rewrites a safetensors file of the case folder through edit.
func (c *CaseCtx) EditST(rel string, edit func(s *stFile) error) error {
	s, err := readST(c.P(rel))
	if err != nil {
		return err
	}
	if err := edit(s); err != nil {
		return err
	}
	return c.Write(rel, s.bytes())
}

// headerEnd returns 8 + the header length of a safetensors file.
func headerEnd(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return 0, err
	}
	return 8 + int64(n), nil
}

// fillTensor overwrites a BF16/F16/F32 tensor's first count elements with
// the bit pattern of v (NaN or Inf in the stored dtype).
func fillTensor(s *stFile, name string, special string, count int) error {
	e := s.entry(name)
	if e == nil {
		return fmt.Errorf("no tensor %s", name)
	}
	a, b := s.offsets(name)
	var pat []byte
	switch e["dtype"] {
	case "BF16":
		pat = map[string][]byte{"nan": {0xc0, 0x7f}, "inf": {0x80, 0x7f}, "-inf": {0x80, 0xff}}[special]
	case "F16":
		pat = map[string][]byte{"nan": {0x00, 0x7e}, "inf": {0x00, 0x7c}, "-inf": {0x00, 0xfc}}[special]
	case "F32":
		pat = map[string][]byte{"nan": {0, 0, 0xc0, 0x7f}, "inf": {0, 0, 0x80, 0x7f}, "-inf": {0, 0, 0x80, 0xff}}[special]
	default:
		return fmt.Errorf("tensor %s: dtype %v", name, e["dtype"])
	}
	for i := 0; i < count && a+(i+1)*len(pat) <= b; i++ {
		copy(s.Data[a+i*len(pat):], pat)
	}
	return nil
}

// splitShards turns dir/model.safetensors into two shards and an index;
// edit may damage the index map before it is written.
func splitShards(dir string, edit func(idx map[string]any, shards []string)) error {
	s, err := readST(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return err
	}
	names := s.names()
	half := len(names) / 2
	shards := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
	wm := map[string]any{}
	for k, part := range [][]string{names[:half], names[half:]} {
		out := &stFile{Header: map[string]any{"__metadata__": map[string]any{"format": "pt"}}}
		for _, n := range part {
			a, b := s.offsets(n)
			e := map[string]any{}
			for kk, vv := range s.entry(n) {
				e[kk] = vv
			}
			e["data_offsets"] = []any{len(out.Data), len(out.Data) + b - a}
			out.Data = append(out.Data, s.Data[a:b]...)
			out.Header[n] = e
			wm[n] = shards[k]
		}
		if err := os.WriteFile(filepath.Join(dir, shards[k]), out.bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, "model.safetensors")); err != nil {
		return err
	}
	idx := map[string]any{"metadata": map[string]any{"total_size": len(s.Data)}, "weight_map": wm}
	if edit != nil {
		edit(idx, shards)
	}
	b, _ := json.MarshalIndent(idx, "", "  ")
	return os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), b, 0o644)
}

// Case is one bad input: how to make it, the command line, and what the
// product must do with it.
type Case struct {
	ID    string // unique, stable: class-short-name
	Class string // the summary table's row
	What  string // the bad input, in words

	Setup func(c *CaseCtx) error // builds the input in the case folder
	Args  []string               // gollm arguments; $D, $B and $R are expanded
	// Environ is added to the command's environment (NAME=VALUE; $D, $B
	// and $R expanded), e.g. a PATH without sbatch.
	Environ []string

	Accept  bool     // the input is legitimately accepted: exit 0
	Runtime bool     // a runtime failure: exit 1
	Want    []string // strings the error line must contain (case-insensitive)

	Progress    bool          // progress lines before the error line are fine
	AllowChange bool          // the command may change files that existed before it ran
	Slow        bool          // skipped by -short
	Timeout     time.Duration // overrides -timeout when longer (huge inputs)
	Twice       bool          // run the command twice at once
	Stagger     time.Duration

	// Check runs after an ok outcome and may demote it to CheckKind.
	Check     func(c *CaseCtx) error
	CheckKind string
}

func (c *Case) code() int {
	switch {
	case c.Accept:
		return 0
	case c.Runtime:
		return 1
	}
	return 2
}
