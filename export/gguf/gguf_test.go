package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
	"github.com/llmcbench/gollm/tokenizer"
)

func fixture(name string) string { return filepath.Join("..", "..", "testdata", name) }

func writeParse(t *testing.T, f *File) (*File, []byte) {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	g, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return g, buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []int{0, 64} {
		f := &File{Alignment: align}
		f.Set("s", String("héllo"))
		f.Set("u32", Uint32(7))
		f.Set("i32", Int32(-3))
		f.Set("f32", Float32(1.5))
		f.Set("b", Bool(true))
		f.Set("u8", Value{Type: TypeUint8, Uint: 200})
		f.Set("i8", Value{Type: TypeInt8, Int: -100})
		f.Set("u16", Value{Type: TypeUint16, Uint: 60000})
		f.Set("i16", Value{Type: TypeInt16, Int: -30000})
		f.Set("u64", Value{Type: TypeUint64, Uint: 1 << 40})
		f.Set("i64", Value{Type: TypeInt64, Int: -1 << 40})
		f.Set("f64", Value{Type: TypeFloat64, Float: math.Pi})
		f.Set("strs", Strings([]string{"a", "", "▁b"}))
		f.Set("floats", Float32s([]float32{-1, 0.25}))
		f.Set("ints", Int32s([]int32{1, -2, 3}))
		x := []float32{1, -2, 3, 0.5, 7, 11, -13}
		q := make([]float32, 64)
		for i := range q {
			q[i] = float32(i%7) - 3
		}
		for _, tt := range []Tensor{
			encode("a", x, []uint64{7}, F32),
			encode("b", x[:6], []uint64{3, 2}, F16),
			encode("c", q, []uint64{32, 2}, Q8_0),
			encode("d", x[:5], []uint64{5}, Q8_0), // falls back to f16
			encode("e", q, []uint64{64}, Q4_0),
		} {
			if err := f.Add(tt); err != nil {
				t.Fatal(err)
			}
		}
		g, raw := writeParse(t, f)
		if !reflect.DeepEqual(g.Keys, f.Keys) {
			t.Errorf("keys %v, want %v", g.Keys, f.Keys)
		}
		for _, k := range f.Keys {
			if !reflect.DeepEqual(g.Meta[k], f.Meta[k]) {
				t.Errorf("align %d: key %s: read %+v, wrote %+v", align, k, g.Meta[k], f.Meta[k])
			}
		}
		if len(g.Tensors) != len(f.Tensors) {
			t.Fatalf("%d tensors read, %d written", len(g.Tensors), len(f.Tensors))
		}
		want := max(align, DefaultAlignment)
		for i, tt := range g.Tensors {
			w := f.Tensors[i]
			if tt.Name != w.Name || tt.Type != w.Type || !reflect.DeepEqual(tt.Dims, w.Dims) || !bytes.Equal(tt.Data, w.Data) {
				t.Errorf("tensor %d: read %s %s %v, wrote %s %s %v", i, tt.Name, tt.Type, tt.Dims, w.Name, w.Type, w.Dims)
			}
			off := cap(raw) - cap(tt.Data)
			if off%want != 0 {
				t.Errorf("tensor %s at byte %d, not aligned to %d", tt.Name, off, want)
			}
		}
		if g.Tensors[3].Type != F16 {
			t.Errorf("q8_0 tensor of 5 values written as %s, want the f16 fallback", g.Tensors[3].Type)
		}
	}
}

func TestQ8_0(t *testing.T) {
	x := make([]float32, 96)
	for i := range 32 {
		x[i] = float32(math.Sin(float64(i))) * 3
		x[32+i] = 0 // an all-zero block
		x[64+i] = float32(i) - 16
	}
	q := QuantizeQ8_0(nil, x)
	if len(q) != 3*34 {
		t.Fatalf("%d bytes, want %d", len(q), 3*34)
	}
	y := DequantizeQ8_0(nil, q)
	for b := range 3 {
		d := tensor.F16ToF32(binary.LittleEndian.Uint16(q[34*b:]))
		var amax float32
		for _, v := range x[32*b : 32*b+32] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		if math.Abs(float64(d-amax/127)) > float64(amax/127)/1000 {
			t.Errorf("block %d: scale %g, want max|x|/127 = %g", b, d, amax/127)
		}
		for i := 32 * b; i < 32*b+32; i++ {
			if e := math.Abs(float64(y[i] - x[i])); e > float64(d)/2*1.0001 {
				t.Errorf("value %d: %g decodes to %g, error above half a step (%g)", i, x[i], y[i], d/2)
			}
		}
	}
	if q[34+2] != 0 || y[40] != 0 {
		t.Errorf("zero block encodes to %d / decodes to %g", q[34+2], y[40])
	}
	if int8(q[68+2]) != -127 {
		t.Errorf("block minimum -16 quantized to %d, want -127", int8(q[68+2]))
	}
}

func TestQ4_0(t *testing.T) {
	x := make([]float32, 96)
	for i := range 32 {
		x[i] = float32(math.Cos(float64(i))) * 2
		x[32+i] = 0
		x[64+i] = float32(i) - 12 // largest magnitude +19, so -8·d = 19
	}
	q := QuantizeQ4_0(nil, x)
	if len(q) != 3*18 {
		t.Fatalf("%d bytes, want %d", len(q), 3*18)
	}
	y := DequantizeQ4_0(nil, q)
	for b := range 3 {
		d := tensor.F16ToF32(binary.LittleEndian.Uint16(q[18*b:]))
		for i := 32 * b; i < 32*b+32; i++ {
			// Half a step, or up to a step for a value clamped at code 15.
			tol := math.Abs(float64(d)) / 2 * 1.0001
			if float64(x[i])/float64(d) > 7.5 {
				tol *= 2
			}
			if e := math.Abs(float64(y[i] - x[i])); e > tol {
				t.Errorf("value %d: %g decodes to %g (scale %g)", i, x[i], y[i], d)
			}
		}
	}
	if y[64+31] != 19 || y[40] != 0 {
		t.Errorf("block maximum 19 decodes to %g, zero block to %g", y[64+31], y[40])
	}
}

func TestPermuteRotary(t *testing.T) {
	for _, tc := range []struct {
		rows, heads int
		want        []float32
	}{
		{4, 1, []float32{0, 2, 1, 3}},
		{8, 2, []float32{0, 2, 1, 3, 4, 6, 5, 7}},
		{8, 1, []float32{0, 4, 1, 5, 2, 6, 3, 7}},
	} {
		x := make([]float32, tc.rows)
		for i := range x {
			x[i] = float32(i)
		}
		if got := permuteRotary(x, tc.rows, 1, tc.heads); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("rows %d heads %d: %v, want %v", tc.rows, tc.heads, got, tc.want)
		}
	}
}

// decode returns a tensor's values as float32.
func decode(t *testing.T, tt Tensor) []float32 {
	t.Helper()
	switch tt.Type {
	case F32:
		v, err := (&tensor.Tensor{DType: tensor.F32, Shape: []int{len(tt.Data) / 4}, Data: tt.Data}).Float32()
		if err != nil {
			t.Fatal(err)
		}
		return v
	case F16:
		v, err := (&tensor.Tensor{DType: tensor.F16, Shape: []int{len(tt.Data) / 2}, Data: tt.Data}).Float32()
		if err != nil {
			t.Fatal(err)
		}
		return v
	case Q8_0:
		return DequantizeQ8_0(nil, tt.Data)
	case Q4_0:
		return DequantizeQ4_0(nil, tt.Data)
	}
	t.Fatalf("tensor %s: type %s", tt.Name, tt.Type)
	return nil
}

// TestExportReadBack exports the LLaMA fixtures, parses the bytes back and
// checks the metadata against config.json and the tokenizer, and every
// tensor against the checkpoint (Q and K through the rotary permutation).
func TestExportReadBack(t *testing.T) {
	for _, model := range []string{"llama2-tiny", "llama3-tiny"} {
		for _, typ := range []TensorType{F32, F16, Q8_0, Q4_0} {
			dir := fixture(model)
			f, err := Export(dir, Options{Type: typ})
			if err != nil {
				t.Fatalf("%s %s: %v", model, typ, err)
			}
			g, _ := writeParse(t, f)
			c, err := models.LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			u := func(k string) uint64 { return g.Meta[k].Uint }
			for k, want := range map[string]int{
				"llama.block_count": c.Layers, "llama.embedding_length": c.Hidden, "llama.feed_forward_length": c.Intermediate,
				"llama.attention.head_count": c.Heads, "llama.attention.head_count_kv": c.KVHeads, "llama.rope.dimension_count": c.HeadDim,
				"llama.context_length": c.MaxPos, "tokenizer.ggml.bos_token_id": c.BOS[0], "tokenizer.ggml.eos_token_id": c.EOS[0],
			} {
				if u(k) != uint64(want) {
					t.Errorf("%s %s: %s = %d, want %d", model, typ, k, u(k), want)
				}
			}
			if g.Meta["general.architecture"].Str != "llama" || float32(g.Meta["llama.rope.freq_base"].Float) != float32(c.Rope.Theta) {
				t.Errorf("%s: architecture %q rope base %g", model, g.Meta["general.architecture"].Str, g.Meta["llama.rope.freq_base"].Float)
			}
			toks := g.Meta["tokenizer.ggml.tokens"].Array
			if len(toks) != c.Vocab || toks[5].Str != tok.IDToToken(5) || toks[c.Vocab-1].Str != tok.IDToToken(c.Vocab-1) {
				t.Errorf("%s: %d tokens, token 5 %q (want %q)", model, len(toks), toks[5].Str, tok.IDToToken(5))
			}
			wantModel := map[string]string{"llama2-tiny": "llama", "llama3-tiny": "gpt2"}[model]
			if got := g.Meta["tokenizer.ggml.model"].Str; got != wantModel {
				t.Errorf("%s: tokenizer model %q, want %q", model, got, wantModel)
			}
			if wantModel == "gpt2" && (len(g.Meta["tokenizer.ggml.merges"].Array) == 0 || g.Meta["tokenizer.ggml.pre"].Str != "llama-bpe") {
				t.Errorf("%s: %d merges, pre %q", model, len(g.Meta["tokenizer.ggml.merges"].Array), g.Meta["tokenizer.ggml.pre"].Str)
			}

			ck, err := tensor.OpenCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]Tensor{}
			for _, tt := range g.Tensors {
				byName[tt.Name] = tt
			}
			check := func(gg, hf string, heads int) {
				tt, ok := byName[gg]
				if !ok {
					t.Errorf("%s: no tensor %s", model, gg)
					return
				}
				src, err := ck.Tensor(hf)
				if err != nil {
					t.Fatal(err)
				}
				want, err := src.Float32()
				if err != nil {
					t.Fatal(err)
				}
				if len(src.Shape) == 2 && (tt.Dims[0] != uint64(src.Shape[1]) || tt.Dims[1] != uint64(src.Shape[0])) {
					t.Errorf("%s: dims %v for shape %v", gg, tt.Dims, src.Shape)
				}
				got := decode(t, tt)
				cols := int(tt.Dims[0])
				rows := len(want) / cols
				for r := range rows {
					srcRow := r
					if heads > 0 { // row 2k+j of a head is HF row j*d/2+k
						d := rows / heads
						h, i := r/d, r%d
						srcRow = h*d + (i%2)*d/2 + i/2
					}
					for j := range cols {
						w, v := want[srcRow*cols+j], got[r*cols+j]
						tol := 0.0
						switch tt.Type {
						case F16:
							tol = math.Abs(float64(w))/1024 + 0x1p-25 // half a step, normal or subnormal
						case Q8_0:
							b := (r*cols + j) / Q8Block * q8BlockBytes
							tol = float64(tensor.F16ToF32(binary.LittleEndian.Uint16(tt.Data[b:])))/2*1.0001 + 1e-12
						case Q4_0: // up to a step where the top code clamps
							b := (r*cols + j) / Q4Block * q4BlockBytes
							tol = math.Abs(float64(tensor.F16ToF32(binary.LittleEndian.Uint16(tt.Data[b:]))))*1.0001 + 1e-12
						}
						if math.Abs(float64(w-v)) > tol {
							t.Fatalf("%s %s %s[%d,%d] = %g, checkpoint %s[%d,%d] = %g", model, typ, gg, r, j, v, hf, srcRow, j, w)
						}
					}
				}
			}
			check("token_embd.weight", "model.embed_tokens.weight", 0)
			check("output_norm.weight", "model.norm.weight", 0)
			for l := range c.Layers {
				p, b := "model.layers."+string(rune('0'+l))+".", "blk."+string(rune('0'+l))+"."
				check(b+"attn_q.weight", p+"self_attn.q_proj.weight", c.Heads)
				check(b+"attn_k.weight", p+"self_attn.k_proj.weight", c.KVHeads)
				check(b+"attn_v.weight", p+"self_attn.v_proj.weight", 0)
				check(b+"attn_output.weight", p+"self_attn.o_proj.weight", 0)
				check(b+"ffn_gate.weight", p+"mlp.gate_proj.weight", 0)
				check(b+"ffn_up.weight", p+"mlp.up_proj.weight", 0)
				check(b+"ffn_down.weight", p+"mlp.down_proj.weight", 0)
				check(b+"attn_norm.weight", p+"input_layernorm.weight", 0)
				check(b+"ffn_norm.weight", p+"post_attention_layernorm.weight", 0)
			}
			_, hasOut := byName["output.weight"]
			if hasOut == c.TieEmbed {
				t.Errorf("%s: output.weight present %v with tie_word_embeddings %v", model, hasOut, c.TieEmbed)
			}
			if hasOut {
				check("output.weight", "lm_head.weight", 0)
			}
			if rf, ok := byName["rope_freqs.weight"]; ok != (c.Rope.Type == "llama3") {
				t.Errorf("%s: rope_freqs present %v for rope type %s", model, ok, c.Rope.Type)
			} else if ok {
				inv, base := c.Rope.InvFreq(), c.Rope
				base.Type = "default"
				un := base.InvFreq()
				for i, v := range decode(t, rf) {
					if math.Abs(float64(un[i]/v-inv[i])) > 1e-6*float64(un[i]) {
						t.Errorf("rope_freqs[%d] = %g: base/factor %g, want %g", i, v, un[i]/v, inv[i])
					}
				}
			}
			ck.Close()
		}
	}
}

func TestExportRefuses(t *testing.T) {
	for _, tc := range []struct {
		model string
		typ   TensorType
	}{
		{"opt-tiny", F16},
		{"chatglm3-tiny", F16},
		{"llama2-tiny", TensorType(3)},
	} {
		if _, err := Export(fixture(tc.model), Options{Type: tc.typ}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s %s: error %v, want ErrUnsupported", tc.model, tc.typ, err)
		}
	}
}

// smallFile is a valid GGUF with one key and one tensor.
func smallFile(t *testing.T) []byte {
	f := &File{}
	f.Set("general.architecture", String("llama"))
	f.Set("a", Strings([]string{"x", "y"}))
	if err := f.Add(encode("w", []float32{1, 2, 3, 4}, []uint64{2, 2}, F32)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseRefuses(t *testing.T) {
	good := smallFile(t)
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	set := func(off int, v uint64, size int) []byte {
		b := bytes.Clone(good)
		if size == 4 {
			binary.LittleEndian.PutUint32(b[off:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(b[off:], v)
		}
		return b
	}
	// Offsets in good: magic 0, version 4, tensors 8, kv count 16, first key length 24.
	tensorInfo := bytes.Index(good, []byte("\x01\x00\x00\x00\x00\x00\x00\x00w")) + 9 // after the name "w"
	for name, b := range map[string][]byte{
		"empty":             nil,
		"bad magic":         append([]byte("GGUX"), good[4:]...),
		"version 1":         set(4, 1, 4),
		"huge tensor count": set(8, 1<<62, 8),
		"huge kv count":     set(16, 1<<40, 8),
		"huge key length":   set(24, 1<<60, 8),
		"truncated header":  good[:20],
		"truncated data":    good[:len(good)-20], // 16 data bytes + 16 padding
		"zero dims":         set(tensorInfo, 0, 4),
		"huge dim":          set(tensorInfo+4, 1<<50, 8),
		"unknown type":      set(tensorInfo+4+16, 99, 4),
		"offset past end":   set(tensorInfo+4+16+4, 1<<20, 8),
		"unaligned offset":  set(tensorInfo+4+16+4, 4, 8),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrBadGGUF) {
			t.Errorf("%s: error %v, want ErrBadGGUF", name, err)
		}
	}
}

// FuzzParse: Parse never panics, and a file it accepts is rewritten by
// WriteTo into bytes that parse back and rewrite identically.
func FuzzParse(f *testing.F) {
	f.Add(smallFile(&testing.T{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		var once, twice bytes.Buffer
		if _, err := g.WriteTo(&once); err != nil {
			return // e.g. an empty array of arrays, which WriteTo refuses
		}
		h, err := Parse(once.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		if _, err := h.WriteTo(&twice); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("rewriting is not stable: %d then %d bytes", once.Len(), twice.Len())
		}
	})
}
