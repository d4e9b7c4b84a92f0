package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
)

// TestRoundTripFixtures reads every fixture file and writes its tensors back:
// the bytes must be identical to what the reference writer produced.
func TestRoundTripFixtures(t *testing.T) {
	for _, m := range testfs.Fixtures {
		for _, name := range []string{"model.safetensors", "reference.safetensors"} {
			path := filepath.Join("..", "testdata", m, name)
			t.Run(m+"/"+name, func(t *testing.T) {
				f, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				var ts []*Tensor
				for _, n := range f.Names() {
					tt, err := f.Tensor(n)
					if err != nil {
						t.Fatal(err)
					}
					ts = append(ts, tt)
				}
				var buf bytes.Buffer
				if err := Write(&buf, ts, f.Metadata); err != nil {
					t.Fatal(err)
				}
				orig, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf.Bytes(), orig) {
					t.Fatalf("round trip differs: %d bytes written, %d original", buf.Len(), len(orig))
				}
			})
		}
	}
}

func writeRaw(t *testing.T, header string, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenBadInput(t *testing.T) {
	good := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := []struct {
		name, header string
		data         []byte
		raw          []byte // whole file, overrides header+data
		want         string
	}{
		{name: "empty file", raw: []byte{}, want: "shorter than the 8-byte header"},
		{name: "short length", raw: []byte{1, 2, 3}, want: "shorter than the 8-byte header"},
		{name: "header past end", raw: append(binary.LittleEndian.AppendUint64(nil, 1000), '{', '}'), want: "runs past the end"},
		{name: "huge header", raw: binary.LittleEndian.AppendUint64(nil, 1<<40), want: "exceeds"},
		{name: "malformed json", header: `{"a":`, want: "not a JSON object"},
		{name: "not an object", header: `[1,2]`, want: "not a JSON object"},
		{name: "unknown dtype", header: `{"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}`, data: make([]byte, 8), want: `unknown dtype "F12"`},
		{name: "truncated data", header: good, data: make([]byte, 4), want: "outside the 4-byte data section"},
		{name: "size mismatch", header: `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data: make([]byte, 8), want: "needs 12 bytes"},
		{name: "overlap", header: `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data: make([]byte, 8), want: "overlap"},
		{name: "negative offset", header: `{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, data: make([]byte, 8), want: "bad data offset"},
		{name: "reversed offsets", header: `{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, data: make([]byte, 8), want: "outside"},
		{name: "negative shape", header: `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, want: "bad shape"},
		{name: "three offsets", header: `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, data: make([]byte, 8), want: "2 entries"},
		{name: "bad metadata", header: `{"__metadata__":{"a":1}}`, want: "__metadata__"},
		{name: "NUL padding", header: good + "\x00\x00\x00", data: make([]byte, 8), want: "byte 0x00 after its JSON object"},
		{name: "second object", header: good + " {}", data: make([]byte, 8), want: "byte 0x7b after its JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p string
			if c.raw != nil {
				p = filepath.Join(t.TempDir(), "x.safetensors")
				os.WriteFile(p, c.raw, 0o644)
			} else {
				p = writeRaw(t, c.header, c.data)
			}
			f, err := Open(p)
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v is not ErrFormat", err)
			}
			testfs.OneLineError(t, err, c.want, p)
		})
	}
	dir := filepath.Join(t.TempDir(), "x.safetensors")
	os.Mkdir(dir, 0o755)
	if _, err := Open(dir); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), dir) {
		t.Errorf("a folder: %v, want ErrFormat naming %s", err, dir)
	}
	// Whitespace padding (what aligning writers add) is valid.
	for _, pad := range []string{"     ", " \t\r\n"} {
		f, err := Open(writeRaw(t, good+pad, make([]byte, 8)))
		if err != nil {
			t.Fatalf("header padded with %q: %v", pad, err)
		}
		f.Close()
	}
	p := writeRaw(t, good, make([]byte, 8))
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Tensor("missing"); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("missing tensor: %v", err)
	}
}

func TestShardedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	a := FromFloat32("model.a", []int{2}, []float32{1, 2})
	b := FromFloat32("model.b", []int{1, 3}, []float32{3, 4, 5})
	c, _ := Encode("model.c", F16, []int{2}, []float32{6, 7})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(WriteFile(filepath.Join(dir, "model-00001-of-00002.safetensors"), []*Tensor{a, b}, map[string]string{"format": "pt"}))
	must(WriteFile(filepath.Join(dir, "model-00002-of-00002.safetensors"), []*Tensor{c}, nil))
	idx := map[string]any{"metadata": map[string]any{"total_size": 24}, "weight_map": map[string]string{
		"model.a": "model-00001-of-00002.safetensors", "model.b": "model-00001-of-00002.safetensors", "model.c": "model-00002-of-00002.safetensors"}}
	js, _ := json.Marshal(idx)
	must(os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), js, 0o644))
	ck, err := OpenCheckpoint(dir)
	must(err)
	defer ck.Close()
	if got := strings.Join(ck.Names(), ","); got != "model.a,model.b,model.c" {
		t.Fatalf("names %s", got)
	}
	for name, want := range map[string][]float32{"model.a": {1, 2}, "model.b": {3, 4, 5}, "model.c": {6, 7}} {
		tt, err := ck.Tensor(name)
		must(err)
		v, err := tt.Float32()
		must(err)
		if fmt.Sprint(v) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	// An index naming a tensor no shard holds is an error naming it.
	idx["weight_map"].(map[string]string)["model.d"] = "model-00002-of-00002.safetensors"
	js, _ = json.Marshal(idx)
	must(os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), js, 0o644))
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), `"model.d"`) {
		t.Errorf("missing tensor in shard: %v", err)
	}
	// A shard that is not in the folder.
	idx["weight_map"].(map[string]string)["model.d"] = "model-00003-of-00002.safetensors"
	js, _ = json.Marshal(idx)
	must(os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), js, 0o644))
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "model-00003-of-00002.safetensors") {
		t.Errorf("missing shard: %v", err)
	}
}

// TestLazy7B writes a sparse file with the header of a LLaMA-2-7B-shaped
// fp16 checkpoint (13.5 GB of data that occupies no disk) and checks that
// opening it and taking views of every tensor leaves the Go heap tiny.
func TestLazy7B(t *testing.T) {
	const h, inter, layers, vocab = 4096, 11008, 32, 32000
	type ent struct {
		name  string
		shape []int
	}
	var ents []ent
	ents = append(ents, ent{"model.embed_tokens.weight", []int{vocab, h}}, ent{"lm_head.weight", []int{vocab, h}}, ent{"model.norm.weight", []int{h}})
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		for _, n := range []string{"q_proj", "k_proj", "v_proj", "o_proj"} {
			ents = append(ents, ent{p + "self_attn." + n + ".weight", []int{h, h}})
		}
		ents = append(ents, ent{p + "mlp.gate_proj.weight", []int{inter, h}}, ent{p + "mlp.up_proj.weight", []int{inter, h}}, ent{p + "mlp.down_proj.weight", []int{h, inter}})
		ents = append(ents, ent{p + "input_layernorm.weight", []int{h}}, ent{p + "post_attention_layernorm.weight", []int{h}})
	}
	hdr := map[string]any{}
	var off int64
	for _, e := range ents {
		n := int64(Numel(e.shape)) * 2
		hdr[e.name] = map[string]any{"dtype": "F16", "shape": e.shape, "data_offsets": []int64{off, off + n}}
		off += n
	}
	js, _ := json.Marshal(hdr)
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	binary.Write(f, binary.LittleEndian, uint64(len(js)))
	f.Write(js)
	if err := f.Truncate(8 + int64(len(js)) + off); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	f.Close()
	if off < 13e9 {
		t.Fatalf("7B checkpoint is %d bytes", off)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	var views int64
	for _, n := range ck.Names() {
		tt, err := ck.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		views += int64(len(tt.Data))
	}
	// Touch one layer norm for real.
	ln, _ := ck.Tensor("model.layers.0.input_layernorm.weight")
	if _, err := ln.Float32(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if views != off {
		t.Errorf("views cover %d bytes, want %d", views, off)
	}
	if grown > 64<<20 {
		t.Errorf("opening a %d-byte checkpoint grew the heap by %d bytes", off, grown)
	}
	t.Logf("7B-shaped checkpoint: %.1f GB of tensors, heap grew %.2f MB", float64(off)/1e9, float64(grown)/1e6)
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), int64(8))
	f.Add([]byte(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`), int64(4))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[99999999999,99999999999],"data_offsets":[0,8]}}`), int64(8))
	f.Add([]byte(`{}`), int64(0))
	f.Fuzz(func(t *testing.T, header []byte, dataLen int64) {
		if dataLen < 0 {
			dataLen = -dataLen
		}
		infos, _, names, err := ParseHeader(header, dataLen)
		if err != nil {
			return
		}
		if len(names) != len(infos) {
			t.Fatalf("%d names, %d infos", len(names), len(infos))
		}
		for _, n := range names {
			in := infos[n]
			if in.Begin < 0 || in.End > dataLen || in.End < in.Begin {
				t.Fatalf("accepted %q with offsets %d..%d of %d", n, in.Begin, in.End, dataLen)
			}
			if int64(Numel(in.Shape))*int64(in.DType.Size()) != in.End-in.Begin {
				t.Fatalf("accepted %q with inconsistent size", n)
			}
		}
	})
}
