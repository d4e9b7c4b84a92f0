package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// allCases lists every bad input, class by class.
func allCases() []*Case {
	var cs []*Case
	for _, f := range []func() []*Case{
		safetensorsCases, configCases, quantConfigCases, tokenizerCases, evalDataCases,
		calibCases, generateFlagCases, tokenizeInfoFlagCases, evalFlagCases, compressFlagCases,
		trainCases, outputCases, commandCases, benchCases, reportCases,
	} {
		cs = append(cs, f()...)
	}
	for _, c := range cs {
		addPathAlternative(c)
	}
	return cs
}

// addPathAlternative lets a message about a flag's path name the path
// instead of the flag: Want "--out" with --out $D/x also accepts "$D/x".
func addPathAlternative(c *Case) {
	for i, w := range c.Want {
		if !strings.HasPrefix(w, "--") || strings.Contains(w, "|") {
			continue
		}
		for j := 0; j+1 < len(c.Args); j++ {
			if v := c.Args[j+1]; c.Args[j] == w && strings.HasPrefix(v, "$D/") || c.Args[j] == w && strings.HasPrefix(v, "/") {
				c.Want[i] = w + "|" + v
			}
		}
	}
}

// Argument sets that run fast on the tiny fixtures.
var (
	infoArgs = func(dir string) []string { return []string{"info", "--model", dir} }
	genArgs  = func(dir string) []string {
		return []string{"generate", "--model", dir, "--ids", "1,2,3", "--max-new-tokens", "2", "--greedy"}
	}
)

// compressArgs are arguments that succeed for method on llama3-tiny, with
// the output in $D/out.
func compressArgs(model, method string) []string {
	a := []string{"compress", "--model", model, "--method", method, "--out", "$D/out"}
	switch method {
	case "magnitude":
	case "rtn":
		a = append(a, "--group-size", "16")
	default:
		a = append(a, "--calib", "$B/calib/c4-sample.jsonl", "--nsamples", "4", "--seqlen", "32")
		switch method {
		case "gptq", "omniquant":
			a = append(a, "--group-size", "16")
		case "awq":
			a = append(a, "--group-size", "16", "--sampling", "window")
		case "llm-pruner":
			a = append(a, "--sparsity", "0.2")
		}
		if method == "omniquant" {
			a = append(a, "--epochs", "1")
		}
	}
	return a
}

var (
	allMethods   = []string{"magnitude", "wanda", "sparsegpt", "rtn", "gptq", "awq", "smoothquant", "llm-pruner", "omniquant"}
	calibMethods = []string{"wanda", "sparsegpt", "gptq", "awq", "smoothquant", "llm-pruner", "omniquant"}
	quantMethods = []string{"rtn", "gptq", "awq", "smoothquant", "omniquant"}
)

func withModel(name string, then func(c *CaseCtx) error) func(c *CaseCtx) error {
	return func(c *CaseCtx) error {
		if err := c.Model(name, "m"); err != nil {
			return err
		}
		if then == nil {
			return nil
		}
		return then(c)
	}
}

func safetensorsCases() []*Case {
	var cs []*Case
	add := func(id, what string, cmd []string, want string, setup func(c *CaseCtx) error) {
		cs = append(cs, &Case{ID: "st-" + id, Class: "safetensors", What: what, Args: cmd, Want: []string{want}, Setup: withModel("llama3", setup)})
	}
	const st = "m/model.safetensors"
	// Truncations at fixed and header-relative offsets.
	for _, off := range []int64{0, 1, 4, 7, 8, 9, 100, 1000} {
		add(fmt.Sprintf("trunc-%d", off), fmt.Sprintf("model.safetensors truncated to %d bytes", off), infoArgs("$D/m"), "model.safetensors",
			func(c *CaseCtx) error { return c.Truncate(st, off) })
	}
	for _, d := range []int64{-1, 0, 1, 2} {
		add(fmt.Sprintf("trunc-hdr%+d", d), fmt.Sprintf("model.safetensors truncated at header end %+d", d), infoArgs("$D/m"), "model.safetensors",
			func(c *CaseCtx) error {
				he, err := headerEnd(c.P(st))
				if err != nil {
					return err
				}
				return c.Truncate(st, he+d)
			})
	}
	for _, f := range []float64{0.25, 0.5, 0.75, 0.99} {
		add(fmt.Sprintf("trunc-%02.0f%%", f*100), fmt.Sprintf("model.safetensors truncated to %.0f%% of its size", f*100), infoArgs("$D/m"), "model.safetensors",
			func(c *CaseCtx) error { return c.TruncateFrac(st, f) })
	}
	add("trunc-1byte", "model.safetensors missing its last byte (generate)", genArgs("$D/m"), "model.safetensors",
		func(c *CaseCtx) error { return c.Truncate(st, -1) })
	// Header length field.
	setLen := func(id, what string, n func(size int64) uint64) {
		add(id, what, infoArgs("$D/m"), "model.safetensors", func(c *CaseCtx) error {
			b, err := c.Read(st)
			if err != nil {
				return err
			}
			v := n(int64(len(b)))
			for i := 0; i < 8; i++ {
				b[i] = byte(v >> (8 * i))
			}
			return c.Write(st, b)
		})
	}
	setLen("hdrlen-past-end", "header length = file size (past the end)", func(s int64) uint64 { return uint64(s) })
	setLen("hdrlen-huge", "header length 2^62", func(int64) uint64 { return 1 << 62 })
	setLen("hdrlen-max", "header length 2^64-1", func(int64) uint64 { return ^uint64(0) })
	setLen("hdrlen-zero", "header length 0", func(int64) uint64 { return 0 })
	setLen("hdrlen-short", "header length 100 (cuts the JSON)", func(int64) uint64 { return 100 })
	// Header JSON.
	rawHeader := func(id, what, hdr string) {
		add(id, what, infoArgs("$D/m"), "model.safetensors", func(c *CaseCtx) error {
			var b bytes.Buffer
			n := uint64(len(hdr))
			for i := 0; i < 8; i++ {
				b.WriteByte(byte(n >> (8 * i)))
			}
			b.WriteString(hdr)
			b.Write(make([]byte, 64))
			return c.Write(st, b.Bytes())
		})
	}
	rawHeader("hdr-garbage", "header is not JSON", "this is not json at all")
	rawHeader("hdr-array", "header is a JSON array", `[1,2,3]`)
	rawHeader("hdr-string", "header is a JSON string", `"x"`)
	rawHeader("hdr-deep", "header nests 100000 arrays", `{"a":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`}`)
	for _, h := range []struct{ id, what, hdr string }{{"hdr-null", "header is JSON null (no tensors)", "null"}, {"hdr-empty-obj", "header is {} (no tensors)", "{}"}} {
		cs = append(cs, &Case{ID: "st-" + h.id, Class: "safetensors", What: h.what, Args: infoArgs("$D/m"), Want: []string{"model.safetensors|embed_tokens"},
			Setup: withModel("llama3", func(c *CaseCtx) error {
				var b bytes.Buffer
				n := uint64(len(h.hdr))
				for i := 0; i < 8; i++ {
					b.WriteByte(byte(n >> (8 * i)))
				}
				b.WriteString(h.hdr)
				return c.Write(st, b.Bytes())
			})})
	}
	pad := func(id, what string, padding string, accept bool) {
		cs = append(cs, &Case{ID: "st-" + id, Class: "safetensors", What: what, Args: infoArgs("$D/m"), Want: []string{"model.safetensors"}, Accept: accept,
			Setup: withModel("llama3", func(c *CaseCtx) error {
				s, err := readST(c.P(st))
				if err != nil {
					return err
				}
				h, _ := json.Marshal(s.Header)
				h = append(h, padding...)
				var b bytes.Buffer
				n := uint64(len(h))
				for i := 0; i < 8; i++ {
					b.WriteByte(byte(n >> (8 * i)))
				}
				b.Write(h)
				b.Write(s.Data)
				return c.Write(st, b.Bytes())
			})})
	}
	pad("hdr-pad-space", "header padded with 5 spaces (valid: the format allows it)", "     ", true)
	pad("hdr-pad-nul", "header padded with NUL bytes", "\x00\x00\x00", false)
	edit := func(id, what string, cmd []string, want string, f func(s *stFile) error) {
		add(id, what, cmd, want, func(c *CaseCtx) error { return c.EditST(st, f) })
	}
	const q = "model.layers.0.self_attn.q_proj.weight"
	set := func(field string, v any) func(s *stFile) error {
		return func(s *stFile) error { s.entry(q)[field] = v; return nil }
	}
	edit("dtype-unknown", "q_proj dtype \"Q7\"", infoArgs("$D/m"), "Q7", set("dtype", "Q7"))
	edit("dtype-number", "q_proj dtype is a number", infoArgs("$D/m"), "model.safetensors", set("dtype", 5))
	edit("dtype-f64", "q_proj dtype F64 with BF16 bytes", infoArgs("$D/m"), "model.safetensors", set("dtype", "F64"))
	edit("dtype-i8", "q_proj dtype I8 with BF16 bytes", infoArgs("$D/m"), "model.safetensors", set("dtype", "I8"))
	edit("shape-negative", "q_proj shape [-64, 64]", infoArgs("$D/m"), "model.safetensors", set("shape", []any{-64, 64}))
	edit("shape-huge", "q_proj shape [2^40, 2^40]", infoArgs("$D/m"), "model.safetensors", set("shape", []any{1 << 40, 1 << 40}))
	edit("shape-overflow", "q_proj shape whose product overflows int64", infoArgs("$D/m"), "model.safetensors", set("shape", []any{1 << 32, 1 << 32, 1 << 32}))
	edit("shape-string", "q_proj shape is a string", infoArgs("$D/m"), "model.safetensors", set("shape", "64x64"))
	edit("shape-zero", "q_proj shape [0, 64]", infoArgs("$D/m"), "q_proj", set("shape", []any{0, 64}))
	edit("shape-bytes", "q_proj shape [64, 63]: shape×dtype ≠ bytes", infoArgs("$D/m"), "model.safetensors", set("shape", []any{64, 63}))
	edit("shape-wrong", "q_proj shape [32, 128] (right bytes, wrong shape)", infoArgs("$D/m"), "q_proj", set("shape", []any{32, 128}))
	edit("shape-3d", "q_proj shape [4, 16, 64]", infoArgs("$D/m"), "q_proj", set("shape", []any{4, 16, 64}))
	edit("offsets-reversed", "q_proj data_offsets reversed", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		a, b := s.offsets(q)
		s.entry(q)["data_offsets"] = []any{b, a}
		return nil
	})
	edit("offsets-outside", "q_proj data_offsets past the end of the file", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		a, b := s.offsets(q)
		n := len(s.Data)
		s.entry(q)["data_offsets"] = []any{n + a, n + b}
		return nil
	})
	edit("offsets-huge", "q_proj data_offsets near 2^63", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		s.entry(q)["data_offsets"] = []any{int64(1<<62) + 8192, int64(1<<62) + 16384}
		return nil
	})
	edit("offsets-overlap", "k_proj and q_proj share bytes", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		a, _ := s.offsets(q)
		k := "model.layers.0.self_attn.k_proj.weight"
		ka, kb := s.offsets(k)
		s.entry(k)["data_offsets"] = []any{a, a + kb - ka}
		return nil
	})
	edit("offsets-misaligned", "q_proj data_offsets shifted by one byte", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		a, b := s.offsets(q)
		s.entry(q)["data_offsets"] = []any{a + 1, b + 1}
		return nil
	})
	edit("offsets-three", "q_proj data_offsets has three numbers", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		a, b := s.offsets(q)
		s.entry(q)["data_offsets"] = []any{a, b, b}
		return nil
	})
	edit("offsets-missing", "q_proj has no data_offsets", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		delete(s.entry(q), "data_offsets")
		return nil
	})
	edit("offsets-negative", "q_proj data_offsets [-8, 8184]", infoArgs("$D/m"), "model.safetensors", set("data_offsets", []any{-8, 8184}))
	edit("entry-string", "q_proj header entry is a string", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		s.Header[q] = "oops"
		return nil
	})
	edit("metadata-number", "__metadata__ is a number", infoArgs("$D/m"), "model.safetensors", func(s *stFile) error {
		s.Header["__metadata__"] = 5
		return nil
	})
	edit("missing-tensor", "layer 0 q_proj deleted", infoArgs("$D/m"), "q_proj", func(s *stFile) error {
		delete(s.Header, q)
		return nil
	})
	edit("missing-norm", "final norm deleted", infoArgs("$D/m"), "model.norm", func(s *stFile) error {
		delete(s.Header, "model.norm.weight")
		return nil
	})
	edit("missing-embed", "embed_tokens deleted", infoArgs("$D/m"), "embed_tokens", func(s *stFile) error {
		delete(s.Header, "model.embed_tokens.weight")
		return nil
	})
	edit("wrong-shape-norm", "input_layernorm shape [32] (with 64 bytes of data)", infoArgs("$D/m"), "input_layernorm", func(s *stFile) error {
		n := "model.layers.0.input_layernorm.weight"
		a, _ := s.offsets(n)
		s.entry(n)["shape"] = []any{32}
		s.entry(n)["data_offsets"] = []any{a, a + 64}
		return nil
	})
	for _, sp := range []string{"nan", "inf", "-inf"} {
		edit("weights-"+sp+"-qproj", "q_proj of layer 0 holds "+sp+" (generate)", genArgs("$D/m"), "q_proj", func(s *stFile) error { return fillTensor(s, q, sp, 8) })
	}
	edit("weights-nan-embed", "embed_tokens holds NaN (generate)", genArgs("$D/m"), "embed_tokens", func(s *stFile) error {
		return fillTensor(s, "model.embed_tokens.weight", "nan", 1<<20)
	})
	edit("weights-nan-norm", "final norm holds NaN (generate)", genArgs("$D/m"), "model.norm", func(s *stFile) error {
		return fillTensor(s, "model.norm.weight", "nan", 64)
	})
	edit("weights-nan-compress", "q_proj holds NaN (compress gptq)", compressArgs("$D/m", "gptq"), "nan", func(s *stFile) error { return fillTensor(s, q, "nan", 64) })
	edit("weights-inf-compress", "down_proj holds Inf (compress sparsegpt)", compressArgs("$D/m", "sparsegpt"), "down_proj", func(s *stFile) error {
		return fillTensor(s, "model.layers.1.mlp.down_proj.weight", "inf", 64)
	})
	add("file-missing", "no model.safetensors (config.json only)", infoArgs("$D/m"), "safetensors", func(c *CaseCtx) error { return os.Remove(c.P(st)) })
	add("file-dir", "model.safetensors is a folder", infoArgs("$D/m"), "model.safetensors", func(c *CaseCtx) error {
		os.Remove(c.P(st))
		return os.Mkdir(c.P(st), 0o755)
	})
	add("file-random", "model.safetensors is 64 KiB of random bytes", infoArgs("$D/m"), "model.safetensors", func(c *CaseCtx) error {
		b := make([]byte, 64<<10)
		rand.New(rand.NewSource(1)).Read(b)
		return c.Write(st, b)
	})
	// Sharded checkpoints.
	shard := func(id, what, want string, f func(c *CaseCtx, idx map[string]any, shards []string)) {
		add(id, what, infoArgs("$D/m"), want, func(c *CaseCtx) error {
			return splitShards(c.P("m"), func(idx map[string]any, shards []string) {
				if f != nil {
					f(c, idx, shards)
				}
			})
		})
	}
	cs = append(cs, &Case{ID: "st-shards-ok", Class: "safetensors", What: "valid two-shard checkpoint (control)", Args: infoArgs("$D/m"), Accept: true,
		Setup: withModel("llama3", func(c *CaseCtx) error { return splitShards(c.P("m"), nil) })})
	shard("shard-missing", "index points at a shard that is not there", "model-00002-of-00002.safetensors", func(c *CaseCtx, _ map[string]any, s []string) {
		os.Remove(filepath.Join(c.P("m"), s[1]))
	})
	shard("shard-renamed", "index names model-00003-of-00002.safetensors", "model-00003", func(c *CaseCtx, idx map[string]any, s []string) {
		wm := idx["weight_map"].(map[string]any)
		for k, v := range wm {
			if v == s[1] {
				wm[k] = "model-00003-of-00002.safetensors"
			}
		}
	})
	shard("shard-traversal", "index shard name ../model.safetensors", "index", func(c *CaseCtx, idx map[string]any, s []string) {
		wm := idx["weight_map"].(map[string]any)
		wm[q] = "../model.safetensors"
	})
	shard("shard-wrong-file", "index says q_proj is in the other shard", "q_proj", func(c *CaseCtx, idx map[string]any, s []string) {
		wm := idx["weight_map"].(map[string]any)
		if wm[q] == s[0] {
			wm[q] = s[1]
		} else {
			wm[q] = s[0]
		}
	})
	shard("shard-extra-name", "index lists a tensor no shard holds", "index", func(c *CaseCtx, idx map[string]any, s []string) {
		idx["weight_map"].(map[string]any)["model.layers.9.mlp.up_proj.weight"] = s[0]
	})
	shard("shard-empty-map", "index weight_map is empty", "index", func(c *CaseCtx, idx map[string]any, s []string) {
		idx["weight_map"] = map[string]any{}
	})
	shard("shard-map-array", "index weight_map is an array", "index", func(c *CaseCtx, idx map[string]any, s []string) {
		idx["weight_map"] = []any{1}
	})
	shard("shard-truncated", "second shard truncated to half", "model-00002-of-00002.safetensors", func(c *CaseCtx, _ map[string]any, s []string) {
		c.TruncateFrac(filepath.Join("m", s[1]), 0.5)
	})
	add("shard-index-garbage", "model.safetensors.index.json is not JSON", infoArgs("$D/m"), "index.json", func(c *CaseCtx) error {
		if err := splitShards(c.P("m"), nil); err != nil {
			return err
		}
		return c.Write("m/model.safetensors.index.json", []byte("{not json"))
	})
	add("shard-duplicate", "the same tensor in both shards (no index)", infoArgs("$D/m"), "safetensors", func(c *CaseCtx) error {
		if err := splitShards(c.P("m"), nil); err != nil {
			return err
		}
		os.Remove(c.P("m/model.safetensors.index.json"))
		b, err := c.Read("m/model-00001-of-00002.safetensors")
		if err != nil {
			return err
		}
		return c.Write("m/model-00003-of-00003.safetensors", b)
	})
	// The other architectures: truncated weights and a missing tensor.
	for _, m := range []string{"llama2", "opt", "opt350", "chatglm"} {
		cs = append(cs, &Case{ID: "st-" + m + "-trunc", Class: "safetensors", What: m + "-tiny model.safetensors truncated to half (info)",
			Args: infoArgs("$D/m"), Want: []string{"model.safetensors"},
			Setup: withModel(m, func(c *CaseCtx) error { return c.TruncateFrac(st, 0.5) })})
		cs = append(cs, &Case{ID: "st-" + m + "-missing", Class: "safetensors", What: m + "-tiny: the first layer-0 tensor deleted (generate)",
			Args: genArgs("$D/m"), Want: []string{"layers.0"},
			Setup: withModel(m, func(c *CaseCtx) error {
				return c.EditST(st, func(s *stFile) error {
					for _, n := range s.names() {
						if strings.Contains(n, "layers.0.") && strings.HasSuffix(n, "weight") && len(s.entry(n)["shape"].([]any)) == 2 {
							delete(s.Header, n)
							return nil
						}
					}
					return fmt.Errorf("no layer-0 matrix")
				})
			})})
	}
	cs = append(cs, &Case{ID: "st-trunc-eval", Class: "safetensors", What: "truncated model.safetensors given to eval",
		Args: []string{"eval", "--model", "$D/m", "--data", "$B/eval", "--tasks", "arc_easy"}, Want: []string{"model.safetensors"},
		Setup: withModel("llama3", func(c *CaseCtx) error { return c.TruncateFrac(st, 0.5) })})
	cs = append(cs, &Case{ID: "st-trunc-compress", Class: "safetensors", What: "truncated model.safetensors given to compress magnitude",
		Args: compressArgs("$D/m", "magnitude"), Want: []string{"model.safetensors"},
		Setup: withModel("llama3", func(c *CaseCtx) error { return c.TruncateFrac(st, 0.5) })})
	return cs
}

func configCases() []*Case {
	var cs []*Case
	add := func(id, what string, model string, cmd []string, want string, edit func(m map[string]any)) {
		cs = append(cs, &Case{ID: "cfg-" + id, Class: "config.json", What: what, Args: cmd, Want: []string{want},
			Setup: withModel(model, func(c *CaseCtx) error { return c.EditJSON("m/config.json", edit) })})
	}
	setF := func(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }
	fields := []string{"num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "vocab_size", "max_position_embeddings", "head_dim"}
	values := []struct {
		name string
		v    any
	}{{"zero", 0}, {"neg", -1}, {"huge", int64(1) << 40}, {"overflow", 1e30}, {"string", "64"}, {"null", nil}, {"frac", 3.5}}
	for _, f := range fields {
		for _, v := range values {
			cmd := infoArgs("$D/m")
			if v.name == "huge" || v.name == "neg" {
				cmd = genArgs("$D/m")
			}
			if f == "head_dim" && v.name == "null" {
				cs = append(cs, &Case{ID: "cfg-head_dim-null", Class: "config.json", What: "llama3 head_dim = null (means hidden/heads; accepted)", Args: cmd, Accept: true,
					Setup: withModel("llama3", func(c *CaseCtx) error { return c.EditJSON("m/config.json", setF(f, nil)) })})
				continue
			}
			add(f+"-"+v.name, fmt.Sprintf("llama3 %s = %v", f, v.v), "llama3", cmd, "config.json|config implies|"+f, setF(f, v.v))
		}
	}
	for _, f := range []string{"num_hidden_layers", "hidden_size", "vocab_size", "num_attention_heads"} {
		add(f+"-missing", "llama3 config without "+f, "llama3", infoArgs("$D/m"), "config.json", func(m map[string]any) { delete(m, f) })
	}
	// Consistent types, inconsistent with the tensors.
	add("layers-more", "num_hidden_layers 3 with 2 layers of tensors", "llama3", infoArgs("$D/m"), "layers.2", setF("num_hidden_layers", 3))
	add("layers-fewer", "num_hidden_layers 1 with 2 layers of tensors", "llama3", infoArgs("$D/m"), "config.json", setF("num_hidden_layers", 1))
	add("hidden-mismatch", "hidden_size 128 with 64-wide tensors", "llama3", infoArgs("$D/m"), "hidden", setF("hidden_size", 128))
	add("intermediate-mismatch", "intermediate_size 200 with 176-wide tensors", "llama3", infoArgs("$D/m"), "intermediate", setF("intermediate_size", 200))
	add("heads-mismatch", "num_attention_heads 8 (q_proj is 4×16)", "llama3", infoArgs("$D/m"), "config", setF("num_attention_heads", 8))
	add("kvheads-mismatch", "num_key_value_heads 4 (k_proj is 2×16)", "llama3", infoArgs("$D/m"), "config", setF("num_key_value_heads", 4))
	add("kvheads-nondiv", "num_key_value_heads 3 does not divide 4 heads", "llama3", infoArgs("$D/m"), "config.json", setF("num_key_value_heads", 3))
	add("vocab-mismatch", "vocab_size 8000 with a 4000-row embedding", "llama3", infoArgs("$D/m"), "vocab", setF("vocab_size", 8000))
	add("headdim-mismatch", "head_dim 8 with 16-wide heads", "llama3", infoArgs("$D/m"), "config", setF("head_dim", 8))
	add("arch-unknown", "model_type mamba, architectures [MambaForCausalLM]", "llama3", infoArgs("$D/m"), "config.json", func(m map[string]any) {
		m["model_type"] = "mamba"
		m["architectures"] = []any{"MambaForCausalLM"}
	})
	add("arch-number", "model_type is a number", "llama3", infoArgs("$D/m"), "config.json", setF("model_type", 7))
	add("arch-missing", "no model_type and no architectures", "llama3", infoArgs("$D/m"), "config.json", func(m map[string]any) {
		delete(m, "model_type")
		delete(m, "architectures")
	})
	add("arch-opt-on-llama", "llama weights with model_type opt", "llama3", infoArgs("$D/m"), "config.json", func(m map[string]any) {
		m["model_type"] = "opt"
		m["architectures"] = []any{"OPTForCausalLM"}
	})
	rope := func(id, what string, edit func(r map[string]any)) {
		add("rope-"+id, what, "llama3", genArgs("$D/m"), "config.json", func(m map[string]any) {
			r, _ := m["rope_parameters"].(map[string]any)
			edit(r)
		})
	}
	rope("type-unknown", "rope_type \"bogus\"", func(r map[string]any) { r["rope_type"] = "bogus" })
	rope("factor-zero", "llama3 rope factor 0", func(r map[string]any) { r["factor"] = 0 })
	rope("factor-neg", "llama3 rope factor -8", func(r map[string]any) { r["factor"] = -8 })
	rope("factor-string", "rope factor \"NaN\"", func(r map[string]any) { r["factor"] = "NaN" })
	rope("theta-zero", "rope_theta 0", func(r map[string]any) { r["rope_theta"] = 0 })
	rope("theta-neg", "rope_theta -500000", func(r map[string]any) { r["rope_theta"] = -500000 })
	rope("freq-equal", "low_freq_factor = high_freq_factor (divides by zero)", func(r map[string]any) { r["low_freq_factor"] = 4.0 })
	rope("orig-zero", "original_max_position_embeddings 0", func(r map[string]any) { r["original_max_position_embeddings"] = 0 })
	add("rope-scaling-string", "rope_scaling is a string", "llama3", genArgs("$D/m"), "config.json", func(m map[string]any) {
		delete(m, "rope_parameters")
		m["rope_scaling"] = "linear"
	})
	add("rope-scaling-linear-zero", "rope_scaling linear factor 0", "llama3", genArgs("$D/m"), "config.json", func(m map[string]any) {
		delete(m, "rope_parameters")
		m["rope_scaling"] = map[string]any{"type": "linear", "factor": 0}
	})
	add("eps-string", "rms_norm_eps is a string", "llama3", infoArgs("$D/m"), "config.json", setF("rms_norm_eps", "1e-5"))
	add("eps-neg", "rms_norm_eps -1", "llama3", genArgs("$D/m"), "config.json", setF("rms_norm_eps", -1))
	add("eos-string", "eos_token_id is a string", "llama3", infoArgs("$D/m"), "config.json", setF("eos_token_id", "x"))
	add("act-unknown", "hidden_act \"swish9\"", "llama3", genArgs("$D/m"), "config.json", setF("hidden_act", "swish9"))
	add("tie-string", "tie_word_embeddings \"yes\"", "llama3", infoArgs("$D/m"), "config.json", setF("tie_word_embeddings", "yes"))
	// OPT and ChatGLM fields.
	add("opt-ffn-zero", "opt ffn_dim 0", "opt", infoArgs("$D/m"), "config.json", setF("ffn_dim", 0))
	add("opt-ffn-huge", "opt ffn_dim 2^40", "opt", genArgs("$D/m"), "config.json", setF("ffn_dim", int64(1)<<40))
	add("opt-proj-mismatch", "opt word_embed_proj_dim 32 without project_in/out tensors", "opt", infoArgs("$D/m"), "config", setF("word_embed_proj_dim", 32))
	add("opt-act-unknown", "opt activation_function \"swish9\"", "opt", genArgs("$D/m"), "config.json", setF("activation_function", "swish9"))
	add("opt-heads-nondiv", "opt num_attention_heads 3 does not divide hidden 64", "opt", infoArgs("$D/m"), "config.json", setF("num_attention_heads", 3))
	add("opt-maxpos-zero", "opt max_position_embeddings 0", "opt", genArgs("$D/m"), "config.json", setF("max_position_embeddings", 0))
	add("opt-layernorm-string", "opt do_layer_norm_before \"yes\"", "opt", infoArgs("$D/m"), "config.json", setF("do_layer_norm_before", "yes"))
	add("opt350-proj-missing", "opt350 word_embed_proj_dim removed", "opt350", infoArgs("$D/m"), "config", func(m map[string]any) { delete(m, "word_embed_proj_dim") })
	add("chatglm-groups-zero", "chatglm multi_query_group_num 0", "chatglm", infoArgs("$D/m"), "config.json", setF("multi_query_group_num", 0))
	add("chatglm-kv-zero", "chatglm kv_channels 0", "chatglm", infoArgs("$D/m"), "config.json", setF("kv_channels", 0))
	add("chatglm-vocab-huge", "chatglm padded_vocab_size 2^40", "chatglm", genArgs("$D/m"), "config.json", setF("padded_vocab_size", int64(1)<<40))
	add("chatglm-layers-neg", "chatglm num_layers -1", "chatglm", infoArgs("$D/m"), "config.json", setF("num_layers", -1))
	add("chatglm-seq-zero", "chatglm seq_length 0", "chatglm", genArgs("$D/m"), "config.json", setF("seq_length", 0))
	add("llama2-heads-huge", "llama2 num_attention_heads 2^31", "llama2", genArgs("$D/m"), "config", setF("num_attention_heads", int64(1)<<31))
	// The file itself.
	file := func(id, what, want string, f func(c *CaseCtx) error) {
		cs = append(cs, &Case{ID: "cfg-" + id, Class: "config.json", What: what, Args: infoArgs("$D/m"), Want: []string{want}, Setup: withModel("llama3", f)})
	}
	file("file-garbage", "config.json is not JSON", "config.json", func(c *CaseCtx) error { return c.Write("m/config.json", []byte("not json")) })
	file("file-empty", "config.json is empty", "config.json", func(c *CaseCtx) error { return c.Write("m/config.json", nil) })
	file("file-array", "config.json is an array", "config.json", func(c *CaseCtx) error { return c.Write("m/config.json", []byte("[]")) })
	file("file-trunc", "config.json truncated to half", "config.json", func(c *CaseCtx) error { return c.TruncateFrac("m/config.json", 0.5) })
	file("file-missing", "no config.json", "config.json", func(c *CaseCtx) error { return os.Remove(c.P("m/config.json")) })
	file("file-dir", "config.json is a folder", "config.json", func(c *CaseCtx) error {
		os.Remove(c.P("m/config.json"))
		return os.Mkdir(c.P("m/config.json"), 0o755)
	})
	file("file-huge-string", "config.json with a 20 MB string field", "config.json", func(c *CaseCtx) error {
		return c.EditJSON("m/config.json", func(m map[string]any) { m["model_type"] = strings.Repeat("x", 20<<20) })
	})
	file("genconfig-garbage", "generation_config.json is not JSON", "generation_config.json", func(c *CaseCtx) error {
		return c.Write("m/generation_config.json", []byte("{oops"))
	})
	cs = append(cs, &Case{ID: "cfg-rope-theta-huge", Class: "config.json", What: "rope_theta 1e308 (finite; accepted)", Args: genArgs("$D/m"), Accept: true,
		Setup: withModel("llama3", func(c *CaseCtx) error {
			return c.EditJSON("m/config.json", func(m map[string]any) { m["rope_parameters"].(map[string]any)["rope_theta"] = 1e308 })
		})})
	cs = append(cs, &Case{ID: "cfg-eos-outside", Class: "config.json", What: "eos_token_id 99999 outside the vocabulary (never matches; accepted)", Args: genArgs("$D/m"), Accept: true,
		Setup: withModel("llama3", func(c *CaseCtx) error { return c.EditJSON("m/config.json", setF("eos_token_id", 99999)) })})
	cs = append(cs, &Case{ID: "cfg-model-missing-dir", Class: "config.json", What: "--model names a folder that does not exist", Args: infoArgs("$D/nope"), Want: []string{"nope"}})
	cs = append(cs, &Case{ID: "cfg-model-is-file", Class: "config.json", What: "--model names a file", Args: infoArgs("$D/file"), Want: []string{"file"},
		Setup: func(c *CaseCtx) error { return c.Write("file", []byte("x")) }})
	return cs
}

func quantConfigCases() []*Case {
	var cs []*Case
	add := func(id, what string, edit func(q map[string]any, m map[string]any)) {
		cs = append(cs, &Case{ID: "qcfg-" + id, Class: "quantization_config", What: what, Args: genArgs("$D/m"), Want: []string{"config.json|quant|group|bits"},
			Setup: func(c *CaseCtx) error {
				if err := c.Model("llama3-rtn", "m"); err != nil {
					return err
				}
				return c.EditJSON("m/config.json", func(m map[string]any) {
					q, _ := m["quantization_config"].(map[string]any)
					edit(q, m)
				})
			}})
	}
	set := func(k string, v any) func(q, m map[string]any) { return func(q, m map[string]any) { q[k] = v } }
	add("bits-3", "4-bit tensors, bits 3", set("bits", 3))
	add("bits-0", "bits 0", set("bits", 0))
	add("bits-16", "bits 16", set("bits", 16))
	add("bits-string", "bits \"4\"", set("bits", "4"))
	add("bits-missing", "no bits", func(q, m map[string]any) { delete(q, "bits") })
	add("group-0", "group_size 0", set("group_size", 0))
	add("group-7", "group_size 7 (does not divide 64)", set("group_size", 7))
	add("group-32", "group_size 32 with 16-column groups stored", set("group_size", 32))
	add("group-neg5", "group_size -5", set("group_size", -5))
	add("method-unknown", "quant_method \"bogus\"", set("quant_method", "bogus"))
	add("method-missing", "no quant_method", func(q, m map[string]any) { delete(q, "quant_method") })
	add("format-unknown", "checkpoint_format \"marlin9\"", set("checkpoint_format", "marlin9"))
	add("descact-string", "desc_act \"yes\"", set("desc_act", "yes"))
	add("sym-string", "sym \"no\"", set("sym", "no"))
	add("qcfg-string", "quantization_config is a string", func(q, m map[string]any) { m["quantization_config"] = "gptq" })
	add("qcfg-array", "quantization_config is an array", func(q, m map[string]any) { m["quantization_config"] = []any{1} })
	add("qcfg-removed", "quantization_config removed from a GPTQ checkpoint", func(q, m map[string]any) { delete(m, "quantization_config") })
	add("actbits-3", "gollm_act_bits 3", set("gollm_act_bits", 3))
	add("actbits-string", "gollm_act_bits \"8\"", set("gollm_act_bits", "8"))
	cs = append(cs, &Case{ID: "qcfg-qweight-trunc", Class: "quantization_config", What: "GPTQ checkpoint with qweight shape changed", Args: genArgs("$D/m"), Want: []string{"qweight"},
		Setup: func(c *CaseCtx) error {
			if err := c.Model("llama3-rtn", "m"); err != nil {
				return err
			}
			return c.EditST("m/model.safetensors", func(s *stFile) error {
				n := "model.layers.0.self_attn.q_proj.qweight"
				e := s.entry(n)
				if e == nil {
					return fmt.Errorf("no %s", n)
				}
				sh := e["shape"].([]any)
				a, _ := sh[0].(json.Number).Int64()
				b, _ := sh[1].(json.Number).Int64()
				e["shape"] = []any{b, a}
				return nil
			})
		}})
	cs = append(cs, &Case{ID: "qcfg-scales-missing", Class: "quantization_config", What: "GPTQ checkpoint without layer-0 q_proj scales", Args: genArgs("$D/m"), Want: []string{"scales"},
		Setup: func(c *CaseCtx) error {
			if err := c.Model("llama3-rtn", "m"); err != nil {
				return err
			}
			return c.EditST("m/model.safetensors", func(s *stFile) error {
				delete(s.Header, "model.layers.0.self_attn.q_proj.scales")
				return nil
			})
		}})
	return cs
}

func tokenizerCases() []*Case {
	var cs []*Case
	tokArgs := []string{"tokenize", "--model", "$D/m", "--text", "hello world"}
	add := func(id, what, model string, f func(c *CaseCtx) error, want string) {
		cs = append(cs, &Case{ID: "tok-" + id, Class: "tokenizer", What: what, Args: tokArgs, Want: []string{want}, Setup: withModel(model, f)})
	}
	const tj = "m/tokenizer.json"
	for _, f := range []float64{0.1, 0.5, 0.99} {
		add(fmt.Sprintf("json-trunc-%02.0f", f*100), fmt.Sprintf("tokenizer.json truncated to %.0f%%", f*100), "llama3", func(c *CaseCtx) error { return c.TruncateFrac(tj, f) }, "tokenizer.json")
	}
	add("json-empty", "tokenizer.json empty", "llama3", func(c *CaseCtx) error { return c.Write(tj, nil) }, "tokenizer.json")
	add("json-garbage", "tokenizer.json not JSON", "opt", func(c *CaseCtx) error { return c.Write(tj, []byte("\x00\x01garbage")) }, "tokenizer.json")
	add("json-array", "tokenizer.json is an array", "opt", func(c *CaseCtx) error { return c.Write(tj, []byte("[1,2]")) }, "tokenizer.json")
	add("json-dir", "tokenizer.json is a folder", "opt", func(c *CaseCtx) error {
		os.Remove(c.P(tj))
		return os.Mkdir(c.P(tj), 0o755)
	}, "tokenizer.json")
	edit := func(id, what, model string, f func(m map[string]any)) {
		add(id, what, model, func(c *CaseCtx) error { return c.EditJSON(tj, f) }, "tokenizer.json")
	}
	sub := func(m map[string]any, k string) map[string]any { v, _ := m[k].(map[string]any); return v }
	edit("model-type-unknown", "model.type \"Bogus\"", "llama3", func(m map[string]any) { sub(m, "model")["type"] = "Bogus" })
	edit("model-missing", "no model", "llama3", func(m map[string]any) { delete(m, "model") })
	edit("model-string", "model is a string", "opt", func(m map[string]any) { m["model"] = "BPE" })
	edit("vocab-array", "model.vocab is an array", "llama3", func(m map[string]any) { sub(m, "model")["vocab"] = []any{"a", "b"} })
	edit("vocab-empty", "model.vocab is {}", "llama3", func(m map[string]any) { sub(m, "model")["vocab"] = map[string]any{} })
	edit("vocab-id-string", "a vocab id is a string", "opt", func(m map[string]any) {
		v := sub(sub(m, "model"), "vocab")
		for k := range v {
			v[k] = "x"
			break
		}
	})
	edit("vocab-id-huge", "a vocab id is 2^40", "opt", func(m map[string]any) {
		v := sub(sub(m, "model"), "vocab")
		for k := range v {
			v[k] = int64(1) << 40
			break
		}
	})
	edit("vocab-id-neg", "a vocab id is -5", "llama3", func(m map[string]any) {
		v := sub(sub(m, "model"), "vocab")
		for k := range v {
			v[k] = -5
			break
		}
	})
	edit("merges-number", "model.merges is a number", "llama3", func(m map[string]any) { sub(m, "model")["merges"] = 5 })
	edit("merges-bad-entry", "a merge is \"a\" (no pair)", "opt", func(m map[string]any) {
		mg, _ := sub(m, "model")["merges"].([]any)
		if len(mg) > 0 {
			mg[0] = "a"
		}
	})
	edit("merges-unknown-token", "a merge of tokens not in the vocab", "opt", func(m map[string]any) {
		mg, _ := sub(m, "model")["merges"].([]any)
		sub(m, "model")["merges"] = append([]any{"zzqq xxvv"}, mg...)
	})
	edit("added-string", "added_tokens is a string", "llama3", func(m map[string]any) { m["added_tokens"] = "x" })
	edit("added-id-huge", "an added token id 10^12", "llama3", func(m map[string]any) {
		m["added_tokens"] = []any{map[string]any{"id": 1e12, "content": "<x>", "special": true}}
	})
	edit("normalizer-unknown", "normalizer.type \"Bogus\"", "opt", func(m map[string]any) { m["normalizer"] = map[string]any{"type": "Bogus"} })
	edit("pretok-unknown", "pre_tokenizer.type \"Bogus\"", "llama3", func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Bogus"} })
	edit("pretok-bad-regex", "pre_tokenizer Split with regex \"(\"", "llama3", func(m map[string]any) {
		m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "("}, "behavior": "Isolated", "invert": false}
	})
	edit("decoder-unknown", "decoder.type \"Bogus\"", "opt", func(m map[string]any) { m["decoder"] = map[string]any{"type": "Bogus"} })
	edit("post-unknown", "post_processor.type \"Bogus\"", "opt", func(m map[string]any) { m["post_processor"] = map[string]any{"type": "Bogus"} })
	const tm = "m/tokenizer.model"
	for _, n := range []int64{1, 10} {
		add(fmt.Sprintf("spm-trunc-%d", n), fmt.Sprintf("tokenizer.model truncated to %d bytes", n), "llama2", func(c *CaseCtx) error { return c.Truncate(tm, n) }, "tokenizer.model")
	}
	add("spm-trunc-half", "tokenizer.model truncated to half", "llama2", func(c *CaseCtx) error { return c.TruncateFrac(tm, 0.5) }, "tokenizer.model")
	add("spm-empty", "tokenizer.model empty", "llama2", func(c *CaseCtx) error { return c.Write(tm, nil) }, "tokenizer.model")
	add("spm-random", "tokenizer.model random bytes", "llama2", func(c *CaseCtx) error {
		b := make([]byte, 4096)
		rand.New(rand.NewSource(2)).Read(b)
		return c.Write(tm, b)
	}, "tokenizer.model")
	add("spm-zeros", "tokenizer.model 4 KiB of zeros", "llama2", func(c *CaseCtx) error { return c.Write(tm, make([]byte, 4096)) }, "tokenizer.model")
	add("spm-huge-length", "tokenizer.model piece with length 2^62", "llama2", func(c *CaseCtx) error {
		return c.Write(tm, []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x0a})
	}, "tokenizer.model")
	add("spm-no-pieces", "tokenizer.model with only trainer_spec", "llama2", func(c *CaseCtx) error {
		return c.Write(tm, []byte{0x12, 0x02, 0x08, 0x01})
	}, "tokenizer.model")
	add("cfg-garbage", "tokenizer_config.json not JSON", "llama3", func(c *CaseCtx) error { return c.Write("m/tokenizer_config.json", []byte("{x")) }, "tokenizer_config.json")
	add("cfg-addbos-string", "tokenizer_config.json add_bos_token \"yes\"", "llama2", func(c *CaseCtx) error {
		return c.Write("m/tokenizer_config.json", []byte(`{"add_bos_token": "yes"}`))
	}, "tokenizer_config.json")
	add("cfg-array", "tokenizer_config.json is an array", "llama2", func(c *CaseCtx) error {
		return c.Write("m/tokenizer_config.json", []byte(`[1]`))
	}, "tokenizer_config.json")
	add("cfg-bos-number", "tokenizer_config.json bos_token is a number", "opt", func(c *CaseCtx) error {
		return c.Write("m/tokenizer_config.json", []byte(`{"bos_token": 5, "add_bos_token": true}`))
	}, "tokenizer_config.json")
	add("none", "model folder without any tokenizer file", "chatglm", nil, "tokenizer")
	cs = append(cs, &Case{ID: "tok-text-100k", Class: "tokenizer", What: "--text of 100 KB (under the OS argument limit)", Accept: true,
		Args: []string{"tokenize", "--model", "$B/llama3", "--text", strings.Repeat("hello world ", 100<<10/12)}})
	cs = append(cs, &Case{ID: "tok-generate-prompt-bad-tok", Class: "tokenizer", What: "generate --prompt with tokenizer.json truncated", Args: []string{"generate", "--model", "$D/m", "--prompt", "hi", "--max-new-tokens", "1"},
		Want: []string{"tokenizer.json"}, Setup: withModel("llama3", func(c *CaseCtx) error { return c.TruncateFrac(tj, 0.5) })})
	// Huge inputs through files: a 40 MB line.
	line := func() []byte { return bytes.Repeat([]byte("lorem ipsum dolor sit amet "), 40<<20/27) }
	cs = append(cs, &Case{ID: "tok-huge-eval", Class: "tokenizer", What: "wikitext2 wiki.test.raw holding one 40 MB line (eval --limit 1)", Slow: true, Accept: true, Timeout: 180 * time.Second,
		Args:  []string{"eval", "--model", "$B/llama3", "--data", "$D/data", "--tasks", "wikitext2", "--seqlen", "32", "--limit", "1"},
		Setup: func(c *CaseCtx) error { return c.Write("data/wikitext2/wiki.test.raw", line()) }})
	cs = append(cs, &Case{ID: "tok-huge-calib", Class: "tokenizer", What: "compress --calib text file holding one 40 MB line (gptq)", Slow: true, Accept: true, Timeout: 180 * time.Second,
		Args:  replaceArg(compressArgs("$B/llama3", "gptq"), "--calib", "$D/big.txt"),
		Setup: func(c *CaseCtx) error { return c.Write("big.txt", line()) }})
	cs = append(cs, &Case{ID: "tok-huge-train", Class: "tokenizer", What: "train --data file holding one 40 MB line", Slow: true, Accept: true, Timeout: 180 * time.Second,
		Args:  append(trainArgs(), "--data", "$D/big.txt"),
		Setup: func(c *CaseCtx) error { return c.Write("big.txt", line()) }})
	return cs
}

// replaceArg returns args with the value after flag replaced.
func replaceArg(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
			return out
		}
	}
	return append(out, flag, value)
}

// dropArg returns args without flag (and its value when it takes one).
func dropArg(args []string, flag string, hasValue bool) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			if hasValue {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func evalDataCases() []*Case {
	var cs []*Case
	evalArgs := func(task string, extra ...string) []string {
		return append([]string{"eval", "--model", "$B/llama3", "--data", "$D/data", "--tasks", task, "--seqlen", "64"}, extra...)
	}
	add := func(id, what, task, want string, f func(c *CaseCtx) error, extra ...string) {
		cs = append(cs, &Case{ID: "eval-" + id, Class: "eval data", What: what, Args: evalArgs(task, extra...), Want: []string{want},
			Setup: func(c *CaseCtx) error {
				if err := c.Copy("eval", "data"); err != nil {
					return err
				}
				return f(c)
			}})
	}
	type jl struct {
		task, folder, file, col, label string
		badLabel                       any
	}
	jsonl := []jl{
		{"arc_easy", "arc_easy", "test.jsonl", "question", "answerKey", "Z"},
		{"arc_challenge", "arc_challenge", "ARC-Challenge-Test.jsonl", "question", "answerKey", "Z"},
		{"hellaswag", "hellaswag", "hellaswag_val.jsonl", "endings", "label", 9},
		{"piqa", "piqa", "valid.jsonl", "goal", "", nil},
		{"winogrande", "winogrande", "dev.jsonl", "sentence", "answer", "7"},
		{"boolq", "boolq", "validation.jsonl", "passage", "label", 5},
		{"mnli", "mnli", "validation_matched.jsonl", "premise", "label", 7},
		{"truthfulqa_mc1", "truthfulqa/multiple_choice", "validation.jsonl", "mc1_targets", "", nil},
		{"wikitext", "wikitext", "test.jsonl", "page", "", nil},
		{"c4", "c4", "c4-validation.00000-of-00008.json", "text", "", nil},
	}
	for _, j := range jsonl {
		rel := "data/" + j.folder + "/" + j.file
		add(j.task+"-trunc", j.task+": "+j.file+" cut in the middle of a line", j.task, j.file, func(c *CaseCtx) error {
			b, err := c.Read(rel)
			if err != nil {
				return err
			}
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				i = len(b)
			}
			return c.Write(rel, b[:i/2])
		})
		add(j.task+"-column", j.task+": column "+j.col+" renamed", j.task, j.col, func(c *CaseCtx) error {
			return c.EditJSONL(rel, func(_ int, m map[string]any) {
				m[j.col+"_renamed"] = m[j.col]
				delete(m, j.col)
			})
		})
		add(j.task+"-type", j.task+": column "+j.col+" is a number", j.task, j.col, func(c *CaseCtx) error {
			return c.EditJSONL(rel, func(_ int, m map[string]any) { m[j.col] = 12345 })
		})
		add(j.task+"-empty", j.task+": "+j.file+" is empty", j.task, j.file, func(c *CaseCtx) error { return c.Write(rel, nil) })
		add(j.task+"-missing", j.task+": folder "+j.folder+" removed", j.task, j.task, func(c *CaseCtx) error {
			return os.RemoveAll(c.P("data/" + strings.Split(j.folder, "/")[0]))
		})
		if j.label != "" {
			add(j.task+"-label", fmt.Sprintf("%s: %s = %v (out of range)", j.task, j.label, j.badLabel), j.task, j.label, func(c *CaseCtx) error {
				return c.EditJSONL(rel, func(i int, m map[string]any) {
					if i == 0 {
						m[j.label] = j.badLabel
					}
				})
			})
		}
	}
	// piqa labels file.
	add("piqa-labels-short", "piqa: valid-labels.lst has fewer lines than valid.jsonl", "piqa", "valid-labels.lst", func(c *CaseCtx) error {
		return c.Write("data/piqa/valid-labels.lst", []byte("0\n"))
	})
	add("piqa-labels-bad", "piqa: valid-labels.lst holds \"x\"", "piqa", "valid-labels.lst", func(c *CaseCtx) error {
		return c.Write("data/piqa/valid-labels.lst", []byte("x\n0\n"))
	})
	add("piqa-labels-range", "piqa: label 5", "piqa", "valid-labels.lst|label", func(c *CaseCtx) error {
		return c.Write("data/piqa/valid-labels.lst", []byte("5\n0\n"))
	})
	// CSV: mmlu, TruthfulQA.csv.
	const mm = "data/mmlu/data/test/anatomy_test.csv"
	add("mmlu-trunc", "mmlu: a test CSV cut inside a quoted field", "mmlu", "anatomy_test.csv", func(c *CaseCtx) error {
		return c.Write(mm, []byte("\"What is the embryological origin,A,B"))
	})
	add("mmlu-columns", "mmlu: a row with 3 columns", "mmlu", "anatomy_test.csv", func(c *CaseCtx) error {
		return c.Write(mm, []byte("q,a,b\n"))
	})
	add("mmlu-answer", "mmlu: answer letter \"Q\"", "mmlu", "anatomy_test.csv", func(c *CaseCtx) error {
		return c.Write(mm, []byte("What?,a,b,c,d,Q\n"))
	})
	add("mmlu-empty", "mmlu: test CSV empty", "mmlu", "anatomy_test.csv", func(c *CaseCtx) error { return c.Write(mm, nil) })
	add("mmlu-missing", "mmlu: no test CSVs", "mmlu", "mmlu", func(c *CaseCtx) error { return os.RemoveAll(c.P("data/mmlu/data/test")) })
	add("mmlu-binary", "mmlu: test CSV holds binary bytes", "mmlu", "anatomy_test.csv", func(c *CaseCtx) error {
		b := make([]byte, 2048)
		rand.New(rand.NewSource(3)).Read(b)
		return c.Write(mm, b)
	})
	const tq = "data/truthfulqa/TruthfulQA.csv"
	llmc := []string{"--prompt", "llmcbench"}
	add("tqa-csv-column", "TruthfulQA.csv without the Best Answer column", "truthfulqa_mc1", "Best Answer", func(c *CaseCtx) error {
		return c.ReplaceInLine(tq, 0, "Best Answer", "Best")
	}, llmc...)
	add("tqa-csv-trunc", "TruthfulQA.csv cut inside a quoted field", "truthfulqa_mc1", "TruthfulQA.csv", func(c *CaseCtx) error {
		return c.Write(tq, []byte("Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\nA,B,\"What"))
	}, llmc...)
	add("tqa-csv-empty", "TruthfulQA.csv empty", "truthfulqa_mc2", "TruthfulQA.csv", func(c *CaseCtx) error { return c.Write(tq, nil) }, llmc...)
	// TSV: qnli, mnli_mismatch.
	const qn = "data/qnli/dev.tsv"
	add("qnli-column", "qnli dev.tsv without the sentence column", "qnli", "sentence", func(c *CaseCtx) error {
		return c.ReplaceInLine(qn, 0, "sentence", "sent")
	})
	add("qnli-label", "qnli label \"maybe\"", "qnli", "label", func(c *CaseCtx) error {
		return c.ReplaceInLine(qn, 1, "\tentailment", "\tmaybe")
	})
	add("qnli-short-row", "qnli row with two fields", "qnli", "dev.tsv", func(c *CaseCtx) error {
		return c.EditLine(qn, 1, func(string) string { return "0\tquestion only" })
	})
	add("qnli-empty", "qnli dev.tsv empty", "qnli", "dev.tsv", func(c *CaseCtx) error { return c.Write(qn, nil) })
	add("qnli-llmc-label", "qnli (llmcbench prompt) label 7", "qnli", "label", func(c *CaseCtx) error {
		return c.ReplaceInLine(qn, 1, "\tentailment", "\t7")
	}, llmc...)
	const mmm = "data/mnli_mismatch/multinli_1.0_dev_mismatched.txt"
	add("mnlimm-column", "mnli_mismatch .txt without gold_label", "mnli_mismatch", "gold_label|label", func(c *CaseCtx) error {
		return c.ReplaceInLine(mmm, 0, "gold_label", "gold")
	})
	add("mnlimm-label", "mnli_mismatch gold_label \"sometimes\"", "mnli_mismatch", "gold_label", func(c *CaseCtx) error {
		return c.ReplaceInLine(mmm, 1, "contradiction", "sometimes")
	})
	// JSON: advglue.
	const ag = "data/advglue/dev_ann.json"
	add("advglue-trunc", "advglue dev_ann.json truncated to half", "advglue_sst2", "dev_ann.json", func(c *CaseCtx) error { return c.TruncateFrac(ag, 0.5) })
	add("advglue-key", "advglue dev_ann.json without the sst2 key", "advglue_sst2", "sst2", func(c *CaseCtx) error {
		return c.EditJSON(ag, func(m map[string]any) { delete(m, "sst2") })
	})
	add("advglue-type", "advglue sst2 is a string", "advglue_sst2", "sst2", func(c *CaseCtx) error {
		return c.EditJSON(ag, func(m map[string]any) { m["sst2"] = "x" })
	})
	add("advglue-label", "advglue sst2 label 9", "advglue_sst2", "label", func(c *CaseCtx) error {
		return c.EditJSON(ag, func(m map[string]any) {
			if rows, ok := m["sst2"].([]any); ok && len(rows) > 0 {
				rows[0].(map[string]any)["label"] = 9
			}
		})
	})
	add("advglue-column", "advglue qqp rows without question2", "advglue_qqp", "question2", func(c *CaseCtx) error {
		return c.EditJSON(ag, func(m map[string]any) {
			if rows, ok := m["qqp"].([]any); ok {
				for _, r := range rows {
					delete(r.(map[string]any), "question2")
				}
			}
		})
	})
	// Raw text and perplexity windows.
	add("wikitext2-empty", "wikitext2 wiki.test.raw empty", "wikitext2", "wiki.test.raw", func(c *CaseCtx) error { return c.Write("data/wikitext2/wiki.test.raw", nil) })
	add("wikitext2-binary", "wikitext2 wiki.test.raw of random bytes (invalid UTF-8)", "wikitext2", "wiki.test.raw", func(c *CaseCtx) error {
		b := make([]byte, 4096)
		rand.New(rand.NewSource(4)).Read(b)
		return c.Write("data/wikitext2/wiki.test.raw", b)
	})
	add("ptb-short", "ptb_new: ptb.test.txt shorter than one 64-token window", "ptb_new", "ptb.test.txt", func(c *CaseCtx) error { return nil })
	add("late-short", "wikitext2,ptb,ptb_new: the third is too short — must fail before the first is scored", "wikitext2,ptb,ptb_new", "ptb.test.txt", func(c *CaseCtx) error { return nil })
	add("late-column", "arc_easy then hellaswag with a renamed column — must fail before arc_easy is scored", "arc_easy,hellaswag", "endings", func(c *CaseCtx) error {
		return c.EditJSONL("data/hellaswag/hellaswag_val.jsonl", func(_ int, m map[string]any) { m["ends"] = m["endings"]; delete(m, "endings") })
	})
	add("c4-gz-trunc", "c4 .json.gz truncated", "c4", "json.gz", func(c *CaseCtx) error {
		os.Remove(c.P("data/c4/c4-validation.00000-of-00008.json"))
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(bytes.Repeat([]byte(`{"text": "some words here and there"}`+"\n"), 200))
		w.Close()
		return c.Write("data/c4/c4-validation.00000-of-00008.json.gz", b.Bytes()[:b.Len()/2])
	})
	add("c4-gz-notgz", "c4 .json.gz that is not gzip", "c4", "json.gz", func(c *CaseCtx) error {
		os.Remove(c.P("data/c4/c4-validation.00000-of-00008.json"))
		return c.Write("data/c4/c4-validation.00000-of-00008.json.gz", []byte(`{"text": "plain"}`))
	})
	// Parquet (no parquet fixture is shipped: these are damaged files).
	parquet := func(id, what string, b []byte) {
		add("parquet-"+id, "boolq: "+what, "boolq", "parquet", func(c *CaseCtx) error {
			os.Remove(c.P("data/boolq/validation.jsonl"))
			return c.Write("data/boolq/validation-00000-of-00001.parquet", b)
		})
	}
	parquet("magic", "validation-00000-of-00001.parquet with no PAR1 magic", []byte("not a parquet file at all"))
	parquet("trunc", "parquet that is only the PAR1 magic", []byte("PAR1"))
	parquet("footer-huge", "parquet whose footer length is 2^31", append([]byte("PAR1xxxxxxxx"), 0xff, 0xff, 0xff, 0x7f, 'P', 'A', 'R', '1'))
	parquet("footer-garbage", "parquet with a garbage footer", append(append([]byte("PAR1"), bytes.Repeat([]byte{0xee}, 64)...), 64, 0, 0, 0, 'P', 'A', 'R', '1'))
	return cs
}

func calibCases() []*Case {
	var cs []*Case
	bad := []struct {
		id, what string
		data     func() []byte
		name     string
	}{
		{"empty", "empty file", func() []byte { return nil }, "empty.txt"},
		{"binary", "8 KiB of random bytes", func() []byte {
			b := make([]byte, 8192)
			rand.New(rand.NewSource(5)).Read(b)
			return b
		}, "binary.bin"},
		{"short", "a file with one word", func() []byte { return []byte("hello\n") }, "short.txt"},
	}
	for _, m := range calibMethods {
		for _, b := range bad {
			cs = append(cs, &Case{ID: "calib-" + m + "-" + b.id, Class: "calibration", What: m + ": --calib " + b.what,
				Args: replaceArg(compressArgs("$B/llama3", m), "--calib", "$D/"+b.name), Want: []string{b.name},
				Setup: func(c *CaseCtx) error { return c.Write(b.name, b.data()) }})
		}
		cs = append(cs, &Case{ID: "calib-" + m + "-missing", Class: "calibration", What: m + ": --calib names a missing file",
			Args: replaceArg(compressArgs("$B/llama3", m), "--calib", "$D/nope.jsonl"), Want: []string{"nope.jsonl"}})
		cs = append(cs, &Case{ID: "calib-" + m + "-none", Class: "calibration", What: m + ": no --calib at all",
			Args: dropArg(compressArgs("$B/llama3", m), "--calib", true), Want: []string{"--calib"}})
	}
	gz := func(id, what, name string, data func() []byte) {
		cs = append(cs, &Case{ID: "calib-gptq-" + id, Class: "calibration", What: "gptq: --calib " + what,
			Args: replaceArg(compressArgs("$B/llama3", "gptq"), "--calib", "$D/"+name), Want: []string{name},
			Setup: func(c *CaseCtx) error { return c.Write(name, data()) }})
	}
	gz("gz-trunc", "c4 .json.gz truncated", "c4-train.json.gz", func() []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(bytes.Repeat([]byte(`{"text": "calibration words and more words"}`+"\n"), 500))
		w.Close()
		b := buf.Bytes()
		return b[:len(b)/2]
	})
	gz("gz-not", ".json.gz that is plain text", "fake.json.gz", func() []byte { return []byte(`{"text": "plain"}` + "\n") })
	gz("jsonl-key", "jsonl whose objects have \"content\", not \"text\"", "content.jsonl", func() []byte {
		return bytes.Repeat([]byte(`{"content": "calibration words and more words and more"}`+"\n"), 200)
	})
	gz("jsonl-garbage", "jsonl whose lines are not JSON", "garbage.jsonl", func() []byte {
		return bytes.Repeat([]byte("{not json\n"), 200)
	})
	gz("jsonl-text-number", "jsonl whose text is a number", "num.jsonl", func() []byte {
		return bytes.Repeat([]byte(`{"text": 12345}`+"\n"), 200)
	})
	cs = append(cs, &Case{ID: "calib-dir", Class: "calibration", What: "gptq: --calib names a folder",
		Args: replaceArg(compressArgs("$B/llama3", "gptq"), "--calib", "$B/calib"), Want: []string{"calib"}})
	cs = append(cs, &Case{ID: "calib-lora-missing", Class: "calibration", What: "llm-pruner: --lora-data names a missing file",
		Args: append(compressArgs("$B/llama3", "llm-pruner"), "--lora-steps", "2", "--lora-data", "$D/nope.txt"), Want: []string{"nope.txt"}})
	return cs
}

func generateFlagCases() []*Case {
	var cs []*Case
	base := []string{"generate", "--model", "$B/llama3", "--ids", "1,2,3", "--max-new-tokens", "2"}
	add := func(id, what string, want string, args ...string) {
		cs = append(cs, &Case{ID: "gen-" + id, Class: "flags: generate", What: what, Args: append(append([]string(nil), base...), args...), Want: []string{want}})
	}
	add("temp-nan", "--temperature NaN", "--temperature", "--temperature", "NaN")
	add("temp-inf", "--temperature Inf", "--temperature", "--temperature", "Inf")
	add("temp-neg", "--temperature -1", "--temperature", "--temperature", "-1")
	add("temp-string", "--temperature hot", "temperature", "--temperature", "hot")
	add("topp-2", "--top-p 2", "--top-p", "--top-p", "2")
	add("topp-neg", "--top-p -0.5", "--top-p", "--top-p", "-0.5")
	add("topp-nan", "--top-p NaN", "--top-p", "--top-p", "NaN")
	add("topp-zero", "--top-p 0", "--top-p", "--top-p", "0")
	add("topk-neg", "--top-k -5", "--top-k", "--top-k", "-5")
	add("topk-float", "--top-k 2.5", "top-k", "--top-k", "2.5")
	add("maxnew-neg", "--max-new-tokens -1", "--max-new-tokens", "--max-new-tokens", "-1")
	add("maxnew-huge", "--max-new-tokens 1000000000", "--max-new-tokens", "--max-new-tokens", "1000000000")
	add("maxnew-overflow", "--max-new-tokens 99999999999999999999", "max-new-tokens", "--max-new-tokens", "99999999999999999999")
	add("threads-neg", "--threads -1", "--threads", "--threads", "-1")
	add("threads-string", "--threads many", "threads", "--threads", "many")
	add("seed-neg", "--seed -1 (unsigned)", "seed", "--seed", "-1")
	add("device-tpu", "--device tpu", "--device", "--device", "tpu")
	add("dtype-f16", "--dtype f16 on the cpu", "--dtype", "--dtype", "f16")
	add("dtype-bogus", "--dtype f7", "--dtype", "--dtype", "f7")
	add("unknown-flag", "--bogus", "bogus", "--bogus")
	add("positional", "a stray positional argument", "stray", "stray")
	add("greedy-value", "--greedy=maybe", "greedy", "--greedy=maybe")
	add("prompt-and-ids", "--prompt with --ids", "--prompt", "--prompt", "hi")
	add("ids-bad", "--ids 1,,x", "--ids", "--ids", "1,,x")
	add("ids-overflow", "--ids 99999999999999999999", "--ids", "--ids", "99999999999999999999")
	add("ids-vocab", "--ids 4000 (vocab is 4000)", "--ids", "--ids", "4000")
	add("ids-maxpos", "500 ids with max_position_embeddings 256", "--ids|--max-new-tokens|max_position_embeddings", "--ids", strings.TrimSuffix(strings.Repeat("5,", 500), ","))
	cs = append(cs, &Case{ID: "gen-no-model", Class: "flags: generate", What: "no --model", Args: []string{"generate", "--ids", "1"}, Want: []string{"--model"}})
	cs = append(cs, &Case{ID: "gen-no-prompt", Class: "flags: generate", What: "neither --prompt nor --ids", Args: []string{"generate", "--model", "$B/llama3"}, Want: []string{"--prompt"}})
	cs = append(cs, &Case{ID: "gen-threads-huge", Class: "flags: generate", What: "--threads 100000 (refused above 4 × the cores)", Want: []string{"--threads"},
		Args: append(append([]string(nil), base...), "--threads", "100000")})
	cs = append(cs, &Case{ID: "gen-ok", Class: "flags: generate", What: "valid sampled run (control)", Accept: true,
		Args: append(append([]string(nil), base...), "--temperature", "0.7", "--top-p", "0.9", "--top-k", "5")})
	// --random-weights with hostile configs.
	rw := func(id, what string, edit func(m map[string]any)) {
		cs = append(cs, &Case{ID: "gen-random-" + id, Class: "flags: generate", What: "--random-weights with " + what, Want: []string{"config.json|--model"},
			Args: []string{"generate", "--model", "$D/m", "--random-weights", "--ids", "1", "--max-new-tokens", "1"},
			Setup: func(c *CaseCtx) error {
				if err := c.Write("m/config.json", nil); err != nil {
					return err
				}
				b, err := os.ReadFile(filepath.Join(c.Base, "llama3/config.json"))
				if err != nil {
					return err
				}
				if err := c.Write("m/config.json", b); err != nil {
					return err
				}
				return c.EditJSON("m/config.json", edit)
			}})
	}
	rw("huge", "a 7B-size config ×100 (layers 3200, hidden 4096)", func(m map[string]any) {
		m["num_hidden_layers"], m["hidden_size"], m["intermediate_size"], m["head_dim"] = 3200, 4096, 11008, 128
		m["num_attention_heads"], m["num_key_value_heads"], m["vocab_size"] = 32, 32, 32000
	})
	rw("vocab", "vocab_size 2^33", func(m map[string]any) { m["vocab_size"] = int64(1) << 33 })
	rw("hidden", "hidden_size 2^20", func(m map[string]any) { m["hidden_size"], m["head_dim"] = 1<<20, 1<<18 })
	rw("layers", "num_hidden_layers 10^7", func(m map[string]any) { m["num_hidden_layers"] = 10000000 })
	rw("intermediate", "intermediate_size 2^31-1", func(m map[string]any) { m["intermediate_size"] = 1<<31 - 1 })
	cs = append(cs, &Case{ID: "gen-random-ok", Class: "flags: generate", What: "--random-weights with the tiny config (control)", Accept: true,
		Args:  []string{"generate", "--model", "$D/m", "--random-weights", "--ids", "1", "--max-new-tokens", "1"},
		Setup: func(c *CaseCtx) error { return c.Copy("llama3/config.json", "m/config.json") }})
	return cs
}

func tokenizeInfoFlagCases() []*Case {
	var cs []*Case
	add := func(id, class, what, want string, args ...string) {
		cs = append(cs, &Case{ID: id, Class: class, What: what, Args: args, Want: []string{want}})
	}
	add("tokz-no-model", "flags: tokenize", "no --model", "--model", "tokenize", "--text", "hi")
	add("tokz-unknown", "flags: tokenize", "--bogus", "bogus", "tokenize", "--model", "$B/llama3", "--bogus")
	add("tokz-missing-dir", "flags: tokenize", "--model names a missing folder", "nope", "tokenize", "--model", "$D/nope", "--text", "x")
	add("tokz-threads", "flags: tokenize", "--threads -3", "--threads", "tokenize", "--model", "$B/llama3", "--text", "x", "--threads", "-3")
	add("tokz-special", "flags: tokenize", "--no-special=2", "no-special", "tokenize", "--model", "$B/llama3", "--text", "x", "--no-special=2")
	add("info-no-model", "flags: info", "no --model", "--model", "info")
	add("info-seqlen-zero", "flags: info", "--seqlen 0", "--seqlen", "info", "--model", "$B/llama3", "--seqlen", "0")
	add("info-seqlen-neg", "flags: info", "--seqlen -1", "--seqlen", "info", "--model", "$B/llama3", "--seqlen", "-1")
	add("info-seqlen-string", "flags: info", "--seqlen long", "seqlen", "info", "--model", "$B/llama3", "--seqlen", "long")
	add("info-seqlen-max", "flags: info", "--seqlen 2^63-1 (MAC count overflows)", "--seqlen", "info", "--model", "$B/llama3", "--seqlen", "9223372036854775807")
	add("info-unknown", "flags: info", "--bogus", "bogus", "info", "--model", "$B/llama3", "--bogus")
	add("info-device", "flags: info", "--device cuda", "--device", "info", "--model", "$B/llama3", "--device", "cuda")
	cs = append(cs, &Case{ID: "info-ok", Class: "flags: info", What: "valid info --json (control)", Accept: true, Args: []string{"info", "--model", "$B/opt350", "--json"}})
	return cs
}

func evalFlagCases() []*Case {
	var cs []*Case
	base := []string{"eval", "--model", "$B/llama3", "--data", "$B/eval", "--tasks", "arc_easy", "--seqlen", "64"}
	add := func(id, what, want string, args ...string) {
		cs = append(cs, &Case{ID: "evalf-" + id, Class: "flags: eval", What: what, Args: append(append([]string(nil), base...), args...), Want: []string{want}})
	}
	add("limit-neg", "--limit -1", "--limit", "--limit", "-1")
	add("seqlen-neg", "--seqlen -5", "--seqlen", "--seqlen", "-5")
	add("seqlen-huge", "--seqlen 100000 (max_position_embeddings 256)", "--seqlen", "--seqlen", "100000")
	add("seqlen-one", "--seqlen 1", "--seqlen", "--seqlen", "1")
	add("shots-neg", "--shots -1", "--shots", "--shots", "-1")
	add("shots-arc", "--shots 5 on a task without few-shot", "--shots", "--shots", "5")
	add("batch-zero", "--batch-size 0", "--batch-size", "--batch-size", "0")
	add("tasks-unknown", "--tasks bogus", "--tasks", "--tasks", "bogus")
	add("tasks-empty", "--tasks \",\"", "--tasks", "--tasks", ",")
	add("prompt-bogus", "--prompt bogus", "--prompt", "--prompt", "bogus")
	add("prompt-task", "--prompt llmcbench with a harness-only task (arc_easy)", "arc_easy", "--prompt", "llmcbench")
	add("data-missing", "--data names a missing folder", "nope", "--data", "$D/nope")
	add("data-file", "--data names a file", "notdir", "--data", "$D/notdir")
	add("threads-neg", "--threads -1", "--threads", "--threads", "-1")
	add("limit-string", "--limit all", "limit", "--limit", "all")
	add("unknown", "--bogus", "bogus", "--bogus")
	cs[len(cs)-4].Setup = func(c *CaseCtx) error { return c.Write("notdir", []byte("x")) }
	cs = append(cs, &Case{ID: "evalf-batch-huge", Class: "flags: eval", What: "--batch-size 10000000 (bounded by the requests; accepted)", Accept: true, Progress: true,
		Args: append(append([]string(nil), base...), "--batch-size", "10000000")})
	cs = append(cs, &Case{ID: "evalf-no-tasks", Class: "flags: eval", What: "no --tasks", Args: []string{"eval", "--model", "$B/llama3"}, Want: []string{"--tasks"}})
	cs = append(cs, &Case{ID: "evalf-no-model", Class: "flags: eval", What: "no --model", Args: []string{"eval", "--tasks", "arc_easy", "--data", "$B/eval"}, Want: []string{"--model"}})
	cs = append(cs, &Case{ID: "evalf-shots-huge", Class: "flags: eval", What: "mmlu --shots 1000 (more than the dev split holds)", Want: []string{"--shots"},
		Args: []string{"eval", "--model", "$B/llama3", "--data", "$B/eval", "--tasks", "mmlu", "--shots", "1000", "--seqlen", "256"}})
	cs = append(cs, &Case{ID: "evalf-ok", Class: "flags: eval", What: "valid arc_easy,boolq run (control)", Accept: true, Progress: true,
		Args: []string{"eval", "--model", "$B/llama3", "--data", "$B/eval", "--tasks", "arc_easy,boolq", "--seqlen", "64", "--out", "$D/r.json"}})
	return cs
}

func compressFlagCases() []*Case {
	var cs []*Case
	add := func(id, what, method, want string, args ...string) {
		cs = append(cs, &Case{ID: "cmp-" + id, Class: "flags: compress", What: what, Want: []string{want},
			Args: append(compressArgs("$B/llama3", method), args...)})
	}
	for _, m := range allMethods {
		cs = append(cs, &Case{ID: "cmp-ok-" + m, Class: "flags: compress", What: m + " with valid flags (control)", Accept: true, Progress: true, Args: compressArgs("$B/llama3", m)})
	}
	cs = append(cs, &Case{ID: "cmp-no-model", Class: "flags: compress", What: "no --model", Args: []string{"compress", "--method", "rtn", "--out", "$D/out"}, Want: []string{"--model"}})
	cs = append(cs, &Case{ID: "cmp-no-out", Class: "flags: compress", What: "no --out", Args: []string{"compress", "--method", "rtn", "--model", "$B/llama3"}, Want: []string{"--out"}})
	cs = append(cs, &Case{ID: "cmp-no-method", Class: "flags: compress", What: "no --method", Args: []string{"compress", "--model", "$B/llama3", "--out", "$D/out"}, Want: []string{"--method"}})
	cs = append(cs, &Case{ID: "cmp-method-unknown", Class: "flags: compress", What: "--method bogus (must list all nine)", Args: []string{"compress", "--model", "$B/llama3", "--out", "$D/out", "--method", "bogus"},
		Want: append([]string{"bogus"}, allMethods...)})
	for _, m := range []string{"magnitude", "wanda", "sparsegpt"} {
		add("sparsity-neg-"+m, m+" --sparsity -0.1", m, "--sparsity", "--sparsity", "-0.1")
		add("sparsity-one-"+m, m+" --sparsity 1", m, "--sparsity", "--sparsity", "1")
		add("sparsity-nan-"+m, m+" --sparsity NaN", m, "--sparsity", "--sparsity", "NaN")
	}
	add("sparsity-1.5", "magnitude --sparsity 1.5", "magnitude", "--sparsity", "--sparsity", "1.5")
	add("sparsity-inf", "wanda --sparsity Inf", "wanda", "--sparsity", "--sparsity", "Inf")
	add("sparsity-string", "magnitude --sparsity half", "magnitude", "sparsity", "--sparsity", "half")
	cs = append(cs, &Case{ID: "cmp-sparsity-zero", Class: "flags: compress", What: "magnitude --sparsity 0 (refused: it would prune nothing; no longer 50%)", Want: []string{"--sparsity"},
		Args: append(compressArgs("$B/llama3", "magnitude"), "--sparsity", "0")})
	for _, m := range quantMethods {
		add("sparsity-with-"+m, "--sparsity 0.5 with "+m, m, "--sparsity", "--sparsity", "0.5")
	}
	add("wbits-and-bits", "omniquant --wbits 4 --bits 3", "omniquant", "--wbits", "--wbits", "4", "--bits", "3")
	add("wbits-gptq", "gptq --wbits 4 (omniquant's flag)", "gptq", "--wbits", "--wbits", "4")
	add("abits-gptq", "gptq --abits 8 (omniquant's flag)", "gptq", "--abits", "--abits", "8")
	add("abits-3", "omniquant --abits 3", "omniquant", "--abits", "--abits", "3")
	add("abits-neg", "omniquant --abits -4", "omniquant", "--abits", "--abits", "-4")
	for _, m := range []string{"rtn", "gptq", "awq"} {
		add("bits-1-"+m, m+" --bits 1", m, "--bits", "--bits", "1")
		add("bits-9-"+m, m+" --bits 9", m, "--bits", "--bits", "9")
		add("bits-neg-"+m, m+" --bits -4", m, "--bits", "--bits", "-4")
	}
	add("bits-16-omni", "omniquant --bits 16", "omniquant", "--bits", "--bits", "16")
	add("bits-4-smooth", "smoothquant --bits 4 (W8A8 only)", "smoothquant", "--bits", "--bits", "4")
	add("bits-magnitude", "magnitude --bits 4 (a pruning method)", "magnitude", "--bits", "--bits", "4")
	add("group-neg2", "rtn --group-size -2", "rtn", "--group-size", "--group-size", "-2")
	add("group-7", "gptq --group-size 7 (divides nothing)", "gptq", "--group-size", "--group-size", "7")
	add("group-huge", "rtn --group-size 100000", "rtn", "--group-size", "--group-size", "100000")
	add("group-omni-7", "omniquant --group-size 7", "omniquant", "group", "--group-size", "7")
	add("pattern-rtn", "--pattern 2:4 with rtn", "rtn", "--pattern", "--pattern", "2:4")
	add("pattern-reversed", "--pattern 4:2", "magnitude", "--pattern", "--pattern", "4:2")
	add("pattern-letters", "--pattern a:b", "wanda", "--pattern", "--pattern", "a:b")
	add("pattern-zero", "--pattern 0:4", "sparsegpt", "--pattern", "--pattern", "0:4")
	add("pattern-three", "--pattern 2:4:8", "magnitude", "--pattern", "--pattern", "2:4:8")
	add("pattern-and-sparsity", "--pattern 2:4 with --sparsity 0.7", "magnitude", "--pattern", "--pattern", "2:4", "--sparsity", "0.7")
	add("pattern-llmpruner", "llm-pruner --pattern 2:4", "llm-pruner", "--pattern", "--pattern", "2:4")
	for _, m := range []string{"gptq", "wanda", "awq", "omniquant"} {
		add("nsamples-zero-"+m, m+" --nsamples 0 (0 means 0: nothing to calibrate on)", m, "--nsamples", "--nsamples", "0")
	}
	add("nsamples-neg", "gptq --nsamples -1", "gptq", "--nsamples", "--nsamples", "-1")
	add("nsamples-huge", "gptq --nsamples 100000000", "gptq", "--nsamples", "--nsamples", "100000000")
	add("seqlen-neg", "sparsegpt --seqlen -1", "sparsegpt", "--seqlen", "--seqlen", "-1")
	add("seqlen-huge", "gptq --seqlen 100000 (max_position_embeddings 256)", "gptq", "--seqlen", "--seqlen", "100000")
	add("damp-neg", "gptq --damp -1", "gptq", "--damp", "--damp", "-1")
	add("damp-nan", "gptq --damp NaN", "gptq", "--damp", "--damp", "NaN")
	add("damp-rtn", "rtn --damp 0.1 (no Hessian)", "rtn", "--damp", "--damp", "0.1")
	add("alpha-neg", "smoothquant --alpha -1", "smoothquant", "--alpha", "--alpha", "-1")
	add("alpha-2", "smoothquant --alpha 2", "smoothquant", "--alpha", "--alpha", "2")
	add("alpha-nan", "smoothquant --alpha NaN", "smoothquant", "--alpha", "--alpha", "NaN")
	add("epochs-neg", "omniquant --epochs -1", "omniquant", "--epochs", "--epochs", "-1")
	add("seed-string", "gptq --seed abc", "gptq", "seed", "--seed", "abc")
	add("sampling-bogus", "gptq --sampling bogus", "gptq", "--sampling", "--sampling", "bogus")
	add("sym-asym", "--sym --asym", "rtn", "--sym", "--sym", "--asym")
	add("device-cuda", "--device cuda", "rtn", "--device", "--device", "cuda")
	add("threads-neg", "--threads -1", "rtn", "--threads", "--threads", "-1")
	add("block-start-past", "llm-pruner --block-start 5 (2 layers)", "llm-pruner", "--block-start", "--block-start", "5")
	add("block-end-before", "llm-pruner --block-start 1 --block-end 1", "llm-pruner", "--block-end", "--block-start", "1", "--block-end", "1")
	add("block-neg", "llm-pruner --block-start -1", "llm-pruner", "--block-start", "--block-start", "-1")
	add("importance-bogus", "llm-pruner --importance bogus", "llm-pruner", "--importance", "--importance", "bogus")
	add("lora-rank-zero", "llm-pruner --lora-steps 2 --lora-rank 0", "llm-pruner", "--lora-rank", "--lora-steps", "2", "--lora-rank", "0")
	add("lora-lr-nan", "llm-pruner --lora-steps 2 --lora-lr NaN", "llm-pruner", "--lora-lr", "--lora-steps", "2", "--lora-lr", "NaN")
	add("lora-steps-neg", "llm-pruner --lora-steps -1", "llm-pruner", "--lora-steps", "--lora-steps", "-1")
	add("lora-seqlen-huge", "llm-pruner --lora-steps 1 --lora-seqlen 100000", "llm-pruner", "--lora-seqlen", "--lora-steps", "1", "--lora-seqlen", "100000")
	add("llmpruner-sparsity-one", "llm-pruner --sparsity 1", "llm-pruner", "--sparsity", "--sparsity", "1")
	add("unknown", "--bogus", "rtn", "bogus", "--bogus")
	add("positional", "a stray positional argument", "rtn", "stray", "stray")
	return cs
}

// trainArgs are train arguments that succeed on the tiny llama config, with
// the output in $D/out (the caller adds --data).
func trainArgs() []string {
	return []string{"train", "--arch", "llama", "--config", "$B/llama3/config.json", "--tokenizer", "$B/llama3", "--steps", "2",
		"--seqlen", "16", "--batch", "2", "--out", "$D/out"}
}

func trainCases() []*Case {
	var cs []*Case
	ok := append(trainArgs(), "--data", "$B/calib/wiki.train.raw")
	add := func(id, what, want string, args ...string) {
		a := append([]string(nil), ok...)
		for i := 0; i+1 < len(args); i += 2 {
			a = replaceArg(a, args[i], args[i+1])
		}
		cs = append(cs, &Case{ID: "train-" + id, Class: "flags: train", What: what, Args: a, Want: []string{want}})
	}
	cs = append(cs, &Case{ID: "train-ok", Class: "flags: train", What: "valid 2-step run (control)", Accept: true, Progress: true, Args: ok})
	add("steps-zero", "--steps 0", "--steps", "--steps", "0")
	add("steps-neg", "--steps -1", "--steps", "--steps", "-1")
	add("arch-bogus", "--arch bogus", "--arch", "--arch", "bogus")
	add("arch-mismatch", "--arch opt with a llama config.json", "--arch", "--arch", "opt")
	add("seqlen-zero", "--seqlen 0", "--seqlen", "--seqlen", "0")
	add("seqlen-huge", "--seqlen 100000 (max_position_embeddings 256)", "--seqlen", "--seqlen", "100000")
	add("batch-zero", "--batch 0", "--batch", "--batch", "0")
	add("batch-huge", "--batch 100000000", "--batch", "--batch", "100000000")
	add("lr-zero", "--lr 0", "--lr", "--lr", "0")
	add("lr-nan", "--lr NaN", "--lr", "--lr", "NaN")
	add("lr-inf", "--lr Inf", "--lr", "--lr", "Inf")
	add("lr-neg", "--lr -1", "--lr", "--lr", "-1")
	add("minlr-nan", "--min-lr NaN", "--min-lr", "--min-lr", "NaN")
	add("minlr-above", "--min-lr 1 above --lr 0.001", "--min-lr", "--min-lr", "1")
	add("warmup-neg", "--warmup -1", "--warmup", "--warmup", "-1")
	add("warmup-past", "--warmup 10 with --steps 2", "--warmup", "--warmup", "10")
	add("wd-nan", "--weight-decay NaN", "--weight-decay", "--weight-decay", "NaN")
	add("wd-neg", "--weight-decay -1", "--weight-decay", "--weight-decay", "-1")
	add("clip-nan", "--clip NaN", "--clip", "--clip", "NaN")
	add("save-every-neg", "--save-every -1", "--save-every", "--save-every", "-1")
	add("threads-neg", "--threads -1", "--threads", "--threads", "-1")
	add("device-cuda", "--device cuda", "--device", "--device", "cuda")
	add("seed-neg", "--seed -1 (unsigned)", "seed", "--seed", "-1")
	add("lr-string", "--lr fast", "lr", "--lr", "fast")
	add("data-missing", "--data names a missing file", "nope.txt", "--data", "$D/nope.txt")
	add("config-missing", "--config names a missing file", "nope.json", "--config", "$D/nope.json")
	add("tokenizer-missing", "--tokenizer names a folder without a tokenizer", "tokenizer", "--tokenizer", "$B/chatglm")
	data := func(id, what, name string, b []byte) {
		cs = append(cs, &Case{ID: "train-data-" + id, Class: "flags: train", What: "--data " + what, Want: []string{name},
			Args: replaceArg(ok, "--data", "$D/"+name), Setup: func(c *CaseCtx) error { return c.Write(name, b) }})
	}
	data("empty", "is an empty file", "empty.txt", nil)
	data("short", "holds one word (shorter than one window)", "short.txt", []byte("hello\n"))
	rb := make([]byte, 8192)
	rand.New(rand.NewSource(6)).Read(rb)
	data("binary", "holds random bytes", "binary.bin", rb)
	cfg := func(id, what string, edit func(m map[string]any)) {
		cs = append(cs, &Case{ID: "train-config-" + id, Class: "flags: train", What: "--config " + what, Want: []string{"config.json"},
			Args: replaceArg(ok, "--config", "$D/config.json"),
			Setup: func(c *CaseCtx) error {
				if err := c.Copy("llama3/config.json", "config.json"); err != nil {
					return err
				}
				return c.EditJSON("config.json", edit)
			}})
	}
	cfg("huge", "of a 70B-size model", func(m map[string]any) {
		m["num_hidden_layers"], m["hidden_size"], m["intermediate_size"], m["head_dim"] = 80, 8192, 28672, 128
		m["num_attention_heads"], m["num_key_value_heads"], m["vocab_size"] = 64, 8, 128256
	})
	cfg("layers-zero", "with num_hidden_layers 0", func(m map[string]any) { m["num_hidden_layers"] = 0 })
	cfg("hidden-neg", "with hidden_size -64", func(m map[string]any) { m["hidden_size"] = -64 })
	cfg("vocab-small", "with vocab_size 10 (the tokenizer has 4000)", func(m map[string]any) { m["vocab_size"] = 10 })
	cs = append(cs, &Case{ID: "train-config-garbage", Class: "flags: train", What: "--config is not JSON", Want: []string{"config.json"},
		Args: replaceArg(ok, "--config", "$D/config.json"), Setup: func(c *CaseCtx) error { return c.Write("config.json", []byte("{{")) }})
	cs = append(cs, &Case{ID: "train-resume-empty", Class: "flags: train", What: "--resume with an empty --out", Want: []string{"--out"},
		Args: []string{"train", "--resume", "--steps", "2", "--out", "$D/out"}, Setup: func(c *CaseCtx) error { return os.MkdirAll(c.P("out"), 0o755) }})
	cs = append(cs, &Case{ID: "train-resume-model", Class: "flags: train", What: "--resume on a folder holding a model, not a run", Want: []string{"out"},
		Args: []string{"train", "--resume", "--steps", "2", "--out", "$D/out"}, Setup: func(c *CaseCtx) error { return c.Model("llama3", "out") }})
	cs = append(cs, &Case{ID: "train-resume-state-trunc", Class: "flags: train", What: "--resume with trainer_state.safetensors truncated", Want: []string{"trainer_state"},
		Args: []string{"train", "--resume", "--steps", "3", "--out", "$D/out"}, AllowChange: true,
		Setup: func(c *CaseCtx) error {
			if err := runGollm(c, c.expand(ok)...); err != nil {
				return err
			}
			return c.TruncateFrac("out/trainer_state.safetensors", 0.5)
		}})
	cs = append(cs, &Case{ID: "train-no-out", Class: "flags: train", What: "no --out", Want: []string{"--out"}, Args: dropArg(ok, "--out", true)})
	cs = append(cs, &Case{ID: "train-unknown", Class: "flags: train", What: "--bogus", Want: []string{"bogus"}, Args: append(append([]string(nil), ok...), "--bogus")})
	return cs
}

// runGollm runs the binary for a case's setup and fails on a non-zero exit.
func runGollm(c *CaseCtx, args ...string) error {
	p, err := start(c.Env, c.Dir, args, 120*time.Second)
	if err != nil {
		return err
	}
	<-p.done
	if p.err != nil {
		return fmt.Errorf("gollm %s: %v: %s", args[0], p.err, trunc(p.stderr.String(), 300))
	}
	return nil
}

func outputCases() []*Case {
	var cs []*Case
	other := func(c *CaseCtx) error { return c.Model("opt", "other") }
	for _, m := range []string{"magnitude", "rtn", "gptq", "llm-pruner", "omniquant"} {
		cs = append(cs, &Case{ID: "out-other-model-" + m, Class: "output paths", What: m + ": --out is another model's folder (must be refused, untouched)",
			Args: replaceArg(compressArgs("$B/llama3", m), "--out", "$D/other"), Want: []string{"--out"}, Setup: other})
	}
	cs = append(cs, &Case{ID: "out-other-overwrite", Class: "output paths", What: "rtn: --out another model's folder with --overwrite (refused: its weights would stay beside the new ones; nothing deleted)", Want: []string{"--out"},
		Args: append(replaceArg(compressArgs("$B/llama3", "rtn"), "--out", "$D/other"), "--overwrite"), Setup: other})
	cs = append(cs, &Case{ID: "out-dataset", Class: "output paths", What: "gptq: --out is a folder holding a dataset", Want: []string{"--out"},
		Args: replaceArg(compressArgs("$B/llama3", "gptq"), "--out", "$D/data"), Setup: func(c *CaseCtx) error { return c.Copy("eval/arc_easy", "data") }})
	cs = append(cs, &Case{ID: "out-same-as-model", Class: "output paths", What: "rtn: --out is the --model folder itself", Want: []string{"--out"},
		Args: replaceArg(compressArgs("$D/m", "rtn"), "--out", "$D/m"), Setup: withModel("llama3", nil)})
	cs = append(cs, &Case{ID: "out-one-file", Class: "output paths", What: "magnitude: --out holds one unrelated notes.txt", Want: []string{"--out"},
		Args: compressArgs("$B/llama3", "magnitude"), Setup: func(c *CaseCtx) error { return c.Write("out/notes.txt", []byte("my notes\n")) }})
	cs = append(cs, &Case{ID: "out-is-file", Class: "output paths", What: "rtn: --out is a file", Want: []string{"--out"},
		Args: replaceArg(compressArgs("$B/llama3", "rtn"), "--out", "$D/file"), Setup: func(c *CaseCtx) error { return c.Write("file", []byte("keep me")) }})
	cs = append(cs, &Case{ID: "out-under-file", Class: "output paths", What: "wanda: --out is under a file (file/sub)", Want: []string{"--out"},
		Args: replaceArg(compressArgs("$B/llama3", "wanda"), "--out", "$D/file/sub"), Setup: func(c *CaseCtx) error { return c.Write("file", []byte("keep me")) }})
	cs = append(cs, &Case{ID: "out-unwritable-compress", Class: "output paths", What: "gptq: --out /proc/badinput-out (unwritable) — refused before work", Want: []string{"--out"},
		Args: replaceArg(compressArgs("$B/llama3", "gptq"), "--out", "/proc/badinput-out")})
	cs = append(cs, &Case{ID: "out-devnull-compress", Class: "output paths", What: "omniquant: --out /dev/null/x — refused before work", Want: []string{"--out"},
		Args: replaceArg(compressArgs("$B/llama3", "omniquant"), "--out", "/dev/null/x")})
	cs = append(cs, &Case{ID: "out-empty-dir", Class: "output paths", What: "rtn: --out an existing empty folder (accepted)", Accept: true, Progress: true,
		Args: compressArgs("$B/llama3", "rtn"), Setup: func(c *CaseCtx) error { return os.MkdirAll(c.P("out"), 0o755) }})
	trainOK := append(trainArgs(), "--data", "$B/calib/wiki.train.raw")
	cs = append(cs, &Case{ID: "out-train-other-model", Class: "output paths", What: "train: --out is another model's folder", Want: []string{"--out"},
		Args: replaceArg(trainOK, "--out", "$D/other"), Setup: other})
	cs = append(cs, &Case{ID: "out-train-dataset", Class: "output paths", What: "train: --out is a folder holding a dataset", Want: []string{"--out"},
		Args: replaceArg(trainOK, "--out", "$D/data"), Setup: func(c *CaseCtx) error { return c.Copy("eval/hellaswag", "data") }})
	cs = append(cs, &Case{ID: "out-train-file", Class: "output paths", What: "train: --out is a file", Want: []string{"--out"},
		Args: replaceArg(trainOK, "--out", "$D/file"), Setup: func(c *CaseCtx) error { return c.Write("file", []byte("keep me")) }})
	cs = append(cs, &Case{ID: "out-train-unwritable", Class: "output paths", What: "train: --out /proc/badinput-out — refused before work", Want: []string{"--out"},
		Args: replaceArg(trainOK, "--out", "/proc/badinput-out")})
	evalBase := []string{"eval", "--model", "$B/llama3", "--data", "$B/eval", "--tasks", "arc_easy", "--seqlen", "64"}
	eo := func(id, what, out string, setup func(c *CaseCtx) error) {
		cs = append(cs, &Case{ID: "out-eval-" + id, Class: "output paths", What: "eval: --out " + what + " — refused before work", Want: []string{"--out"},
			Args: append(append([]string(nil), evalBase...), "--out", out), Setup: setup})
	}
	eo("missing-dir", "in a missing folder", "$D/nope/r.json", nil)
	eo("dir", "is a folder", "$D/adir", func(c *CaseCtx) error { return os.MkdirAll(c.P("adir"), 0o755) })
	eo("under-file", "under a file", "$D/file/r.json", func(c *CaseCtx) error { return c.Write("file", []byte("keep me")) })
	eo("proc", "/proc/r.json (unwritable)", "/proc/badinput-r.json", nil)
	cs = append(cs, &Case{ID: "out-eval-model-file", Class: "output paths", What: "eval: --out is the model's config.json", Want: []string{"--out"},
		Args: append(replaceArg(evalBase, "--model", "$D/m"), "--out", "$D/m/config.json"), Setup: withModel("llama3", nil)})
	// Two runs into one --out at once.
	twice := func(id, what string, args []string) {
		cs = append(cs, &Case{ID: "out-twice-" + id, Class: "output paths", What: what, Want: []string{"--out"}, Twice: true, Slow: true,
			Progress: true, AllowChange: true, Args: args})
	}
	twice("omniquant", "two omniquant runs (3 epochs) into one --out at once: the second must be refused", replaceArg(compressArgs("$B/llama3", "omniquant"), "--epochs", "3"))
	twice("train", "two 40-step train runs into one --out at once: the second must be refused", replaceArg(trainOK, "--steps", "40"))
	twice("gptq", "two gptq runs into one --out at once: the second must be refused", compressArgs("$B/opt350", "gptq"))
	return cs
}

func commandCases() []*Case {
	return []*Case{
		{ID: "cmd-unknown", Class: "commands", What: "unknown command", Args: []string{"frobnicate"}, Want: []string{"frobnicate"}},
		{ID: "cmd-help", Class: "commands", What: "gollm help (accepted)", Args: []string{"help"}, Accept: true, Progress: true},
		{ID: "cmd-sub-help", Class: "commands", What: "gollm compress --help (accepted)", Args: []string{"compress", "--help"}, Accept: true, Progress: true},
		{ID: "cmd-list-tasks", Class: "commands", What: "gollm eval --list-tasks (accepted)", Args: []string{"eval", "--list-tasks"}, Accept: true},
		{ID: "cmd-empty-flag", Class: "commands", What: "gollm info --model= (empty value)", Args: []string{"info", "--model="}, Want: []string{"--model"}},
		{ID: "cmd-dash", Class: "commands", What: "gollm - (a lone dash)", Args: []string{"-"}, Want: []string{"-"}},
	}
}

// studyConfig is a small valid gollm bench config over the llama3 fixture
// (one method, one task) with line n replaced by repl when n > 0.
func studyConfig(n int, repl string) []byte {
	lines := []string{
		"models:",
		"  - $B/llama3",
		"methods:",
		"  - rtn:bits=4,group=8",
		"tasks:",
		"  - {name: wikitext2, limit: 1}",
		"data: $R/testdata/eval",
	}
	if n > 0 {
		lines[n-1] = repl
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// writeStudyConfig writes studyConfig(n, repl) as study.yaml with $B and $R
// expanded.
func writeStudyConfig(n int, repl string) func(c *CaseCtx) error {
	return func(c *CaseCtx) error {
		s := strings.NewReplacer("$B", c.Base, "$R", c.Root).Replace(string(studyConfig(n, repl)))
		return c.Write("study.yaml", []byte(s))
	}
}

func benchCases() []*Case {
	bench := func(extra ...string) []string {
		return append([]string{"bench", "--config", "$D/study.yaml", "--out", "$D/study"}, extra...)
	}
	return []*Case{
		{ID: "bench-unknown-method", Class: "bench config", What: "a method gollm does not have", Setup: writeStudyConfig(4, "  - gptx:bits=4"), Args: bench(), Want: []string{"study.yaml:4", "gptx"}},
		{ID: "bench-bad-param", Class: "bench config", What: "an unsupported bit width", Setup: writeStudyConfig(4, "  - rtn:bits=9"), Args: bench(), Want: []string{"study.yaml:4", "bits"}},
		{ID: "bench-unknown-task", Class: "bench config", What: "a task gollm does not have", Setup: writeStudyConfig(6, "  - {name: squad, limit: 1}"), Args: bench(), Want: []string{"study.yaml:6", "squad"}},
		{ID: "bench-negative-limit", Class: "bench config", What: "limit -1", Setup: writeStudyConfig(6, "  - {name: wikitext2, limit: -1}"), Args: bench(), Want: []string{"study.yaml:6", "limit"}},
		{ID: "bench-missing-model", Class: "bench config", What: "a model folder that does not exist", Setup: writeStudyConfig(2, "  - $D/nope"), Args: bench(), Want: []string{"study.yaml:2", "nope"}},
		{ID: "bench-unknown-key", Class: "bench config", What: "a misspelt key (modles:)", Setup: writeStudyConfig(1, "modles:"), Args: bench(), Want: []string{"study.yaml:1", "modles"}},
		{ID: "bench-not-yaml", Class: "bench config", What: "a config that is not YAML or JSON", Setup: func(c *CaseCtx) error { return c.Write("study.yaml", []byte("models: [\x00\x01")) }, Args: bench(), Want: []string{"study.yaml"}},
		{ID: "bench-no-config", Class: "bench config", What: "--config names no file", Args: []string{"bench", "--config", "$D/none.yaml", "--out", "$D/study"}, Want: []string{"none.yaml"}},
		{ID: "bench-out-foreign", Class: "bench config", What: "--out is a folder of other files (not a study)", Setup: func(c *CaseCtx) error {
			if err := writeStudyConfig(0, "")(c); err != nil {
				return err
			}
			return c.Write("study/mine.txt", []byte("keep me\n"))
		}, Args: bench(), Want: []string{"--out"}},
		{ID: "bench-executor-unknown", Class: "bench slurm", What: "--executor kubernetes", Setup: writeStudyConfig(0, ""), Args: bench("--executor", "kubernetes"), Want: []string{"--executor", "kubernetes"}},
		{ID: "bench-slurm-no-sbatch", Class: "bench slurm", What: "--executor slurm where sbatch is not on PATH", Setup: func(c *CaseCtx) error {
			if err := writeStudyConfig(0, "")(c); err != nil {
				return err
			}
			return os.MkdirAll(c.P("empty-bin"), 0o755)
		}, Environ: []string{"PATH=$D/empty-bin"}, Args: bench("--executor", "slurm"), Want: []string{"sbatch"}},
		{ID: "bench-slurm-bad-time", Class: "bench slurm", What: "--time 4h (Slurm wants 4:00:00)", Setup: writeStudyConfig(0, ""), Args: bench("--executor", "slurm", "--time", "4h"), Want: []string{"--time", "4h"}},
		{ID: "bench-slurm-bad-gres", Class: "bench slurm", What: "--gres 'gpu 1'", Setup: writeStudyConfig(0, ""), Args: bench("--executor", "slurm", "--gres", "gpu 1"), Want: []string{"--gres"}},
		{ID: "bench-slurm-bad-mem", Class: "bench slurm", What: "--mem 64gb", Setup: writeStudyConfig(0, ""), Args: bench("--executor", "slurm", "--mem", "64gb"), Want: []string{"--mem"}},
		{ID: "bench-slurm-sbatch-newline", Class: "bench slurm", What: "--sbatch with a line break (a second script line)", Setup: writeStudyConfig(0, ""), Args: bench("--executor", "slurm", "--sbatch", "--qos=a\nrm -rf /"), Want: []string{"--sbatch"}},
		{ID: "bench-slurm-sbatch-array", Class: "bench slurm", What: "--sbatch --array=0-3 (gollm sets the array)", Setup: writeStudyConfig(0, ""), Args: bench("--executor", "slurm", "--sbatch", "--array=0-3"), Want: []string{"--sbatch", "array"}},
		{ID: "bench-slurm-flag-local", Class: "bench slurm", What: "--partition with the local executor", Setup: writeStudyConfig(0, ""), Args: bench("--partition", "gpu"), Want: []string{"--partition", "slurm"}},
		{ID: "bench-slurm-negative-cpus", Class: "bench slurm", What: "--cpus-per-task -1", Setup: writeStudyConfig(0, ""), Args: bench("--executor", "slurm", "--cpus-per-task", "-1"), Want: []string{"--cpus-per-task"}},
		{ID: "bench-slurm-config-time", Class: "bench slurm", What: "slurm: {time: soon} in the config", Setup: func(c *CaseCtx) error {
			if err := writeStudyConfig(0, "")(c); err != nil {
				return err
			}
			b, err := c.Read("study.yaml")
			if err != nil {
				return err
			}
			return c.Write("study.yaml", append(b, "slurm:\n  time: soon\n"...))
		}, Args: bench("--executor", "slurm"), Want: []string{"study.yaml:9", "slurm.time", "soon"}},
		{ID: "bench-only-unknown", Class: "bench slurm", What: "--only a unit the study does not have", Setup: writeStudyConfig(0, ""), AllowChange: true, Args: bench("--only", "llama3/gptx"), Want: []string{"--only", "llama3/gptx"}},
		{ID: "bench-status-only", Class: "bench slurm", What: "--status with --only", Setup: writeStudyConfig(0, ""), Args: bench("--status", "--only", "llama3/dense"), Want: []string{"--status", "--only"}},
	}
}

func reportCases() []*Case {
	return []*Case{
		{ID: "report-missing", Class: "report", What: "--results names no folder", Args: []string{"report", "--results", "$D/none"}, Want: []string{"none"}},
		{ID: "report-not-study", Class: "report", Progress: true, What: "--results is a folder without study.json", Setup: func(c *CaseCtx) error { return c.Write("s/notes.txt", []byte("x\n")) }, Args: []string{"report", "--results", "$D/s"}, Want: []string{"study"}},
		{ID: "report-bad-study-json", Class: "report", Progress: true, What: "study.json that is not JSON", Setup: func(c *CaseCtx) error { return c.Write("s/study.json", []byte("{not json")) }, Args: []string{"report", "--results", "$D/s"}, Want: []string{"study.json"}},
		{ID: "report-bad-format", Class: "report", What: "--format pdf", Setup: func(c *CaseCtx) error { return c.Write("s/study.json", []byte("{}")) }, Args: []string{"report", "--results", "$D/s", "--format", "pdf"}, Want: []string{"--format"}},
		{ID: "report-out-foreign", Class: "report", What: "--out names a file gollm did not write", Setup: func(c *CaseCtx) error {
			if err := c.Write("s/study.json", []byte(`{"gollm_version":"devel"}`)); err != nil {
				return err
			}
			return c.Write("mine.html", []byte("<p>keep me</p>\n"))
		}, Args: []string{"report", "--results", "$D/s", "--out", "$D/mine.html"}, Want: []string{"mine.html"}},
	}
}
