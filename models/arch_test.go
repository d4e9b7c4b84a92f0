package models

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

// TestArchitectureFixtures checks each architecture's description against
// the fixtures' safetensors: every tensor the checkpoint holds is
// described with its shape, and nothing extra is described.
func TestArchitectureFixtures(t *testing.T) {
	dirs, err := filepath.Glob("../testdata/*-tiny")
	if err != nil || len(dirs) < 5 {
		t.Fatalf("fixtures: %v %v", dirs, err)
	}
	seen := map[string]bool{}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			a, err := ArchitectureOf(c)
			if err != nil {
				t.Fatal(err)
			}
			seen[a.Name] = true
			specs, err := a.Tensors(c)
			if err != nil {
				t.Fatal(err)
			}
			ck, err := tensor.OpenCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			described := map[string]bool{}
			for _, s := range specs {
				if described[s.Name] {
					t.Errorf("%s described twice", s.Name)
				}
				described[s.Name] = true
				info, ok := ck.Info(s.Name)
				if !ok {
					t.Errorf("%s described but not in the checkpoint", s.Name)
					continue
				}
				if fmt.Sprint(info.Shape) != fmt.Sprint(s.Shape) {
					t.Errorf("%s: checkpoint shape %v, described %v", s.Name, info.Shape, s.Shape)
				}
			}
			for _, n := range ck.Names() {
				if !described[n] {
					t.Errorf("%s in the checkpoint but not described", n)
				}
			}
			// Every block's tensors carry the block's prefix, and its
			// linears are those the loaded model runs, in order.
			m := loadFixture(t, filepath.Base(dir))
			for i := 0; i < c.Layers; i++ {
				b := a.Block(c, i)
				ls := m.Linears(i)
				if len(ls) != len(b.Linears) {
					t.Fatalf("block %d: model runs %d linears, described %d", i, len(ls), len(b.Linears))
				}
				for j, l := range b.Linears {
					if ls[j].Name != b.Prefix+l.Short || ls[j].Out() != l.Out || ls[j].In() != l.In || (ls[j].Bias != nil) != l.Bias {
						t.Errorf("block %d linear %d: model %s %d×%d bias %v, described %s%s %d×%d bias %v",
							i, j, ls[j].Name, ls[j].Out(), ls[j].In(), ls[j].Bias != nil, b.Prefix, l.Short, l.Out, l.In, l.Bias)
					}
				}
			}
		})
	}
	var names []string
	for n := range architectures {
		names = append(names, n)
		if !seen[n] {
			t.Errorf("architecture %s has no fixture", n)
		}
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[chatglm llama opt]" {
		t.Errorf("architectures %v", names)
	}
}

// TestArchitecturePerLayerSizes describes structurally pruned models whose
// layers differ in head count and MLP width: each block's shapes follow
// its layer's sizes, and a model built from the config holds exactly them.
func TestArchitecturePerLayerSizes(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		// want: block 1's linear shapes, out×in, in execution order.
		want string
	}{
		{"llama", `{"model_type":"llama","vocab_size":50,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":3,
			"num_attention_heads":4,"num_key_value_heads":2,"head_dim":4,
			"num_attention_heads_per_layer":[4,2,4],"num_key_value_heads_per_layer":[2,1,2],"intermediate_size_per_layer":[32,8,20]}`,
			"[{self_attn.q_proj 8 16 false} {self_attn.k_proj 4 16 false} {self_attn.v_proj 4 16 false} {self_attn.o_proj 16 8 false} {mlp.gate_proj 8 16 false} {mlp.up_proj 8 16 false} {mlp.down_proj 16 8 false}]"},
		{"opt", `{"model_type":"opt","vocab_size":50,"hidden_size":16,"ffn_dim":32,"num_hidden_layers":3,"num_attention_heads":4,
			"max_position_embeddings":32,"num_attention_heads_per_layer":[4,1,4],"num_key_value_heads_per_layer":[4,1,4],"intermediate_size_per_layer":[32,12,20]}`,
			"[{self_attn.q_proj 4 16 true} {self_attn.k_proj 4 16 true} {self_attn.v_proj 4 16 true} {self_attn.out_proj 16 4 true} {fc1 12 16 true} {fc2 16 12 true}]"},
		{"chatglm", `{"model_type":"chatglm","padded_vocab_size":50,"hidden_size":16,"ffn_hidden_size":32,"num_layers":3,"num_attention_heads":4,
			"kv_channels":4,"multi_query_attention":true,"multi_query_group_num":2,"add_qkv_bias":true,
			"num_attention_heads_per_layer":[4,2,4],"num_key_value_heads_per_layer":[2,1,2],"intermediate_size_per_layer":[32,8,20]}`,
			"[{self_attention.query_key_value 16 16 true} {self_attention.dense 16 8 false} {mlp.dense_h_to_4h 16 16 false} {mlp.dense_4h_to_h 16 8 false}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig([]byte(tc.config))
			if err != nil {
				t.Fatal(err)
			}
			a, err := ArchitectureOf(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(a.Block(c, 1).Linears); got != tc.want {
				t.Errorf("block 1 linears\n got %s\nwant %s", got, tc.want)
			}
			if b0, b1 := a.Block(c, 0), a.Block(c, 1); fmt.Sprint(b0.Linears) == fmt.Sprint(b1.Linears) {
				t.Errorf("blocks 0 and 1 have the same shapes %v", b0.Linears)
			}
			m, err := FromConfig(c, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			specs, err := a.Tensors(c)
			if err != nil {
				t.Fatal(err)
			}
			held := map[string][]int{}
			for i := -1; i < c.Layers; i++ {
				for _, l := range m.Linears(i) {
					held[l.Name+".weight"] = []int{l.Out(), l.In()}
				}
			}
			for _, s := range specs {
				if sh, ok := held[s.Name]; ok && fmt.Sprint(sh) != fmt.Sprint(s.Shape) {
					t.Errorf("%s: model holds %v, described %v", s.Name, sh, s.Shape)
				}
				delete(held, s.Name)
			}
			if len(held) > 0 && !(len(held) == 1 && c.TieEmbed) {
				t.Errorf("linears the description lacks: %v", held)
			}
		})
	}
}

// TestArchitectureRules checks the compression rules name only linears of
// the block, and every linear is in exactly one input group and one
// true-sequential group.
func TestArchitectureRules(t *testing.T) {
	dirs, _ := filepath.Glob("../testdata/*-tiny")
	for _, dir := range dirs {
		c, err := LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := ArchitectureOf(c)
		b, r := a.Block(c, 0), a.Rules(c)
		has := func(s string) bool { _, ok := b.Linear(s); return ok }
		for what, groups := range map[string][][]string{"inputs": r.Inputs, "true-sequential": r.TrueSequential} {
			n := map[string]int{}
			for _, g := range groups {
				for _, s := range g {
					n[s]++
				}
			}
			for _, l := range b.Linears {
				if n[l.Short] != 1 {
					t.Errorf("%s: %s: %s appears %d times", dir, what, l.Short, n[l.Short])
				}
			}
			if len(n) != len(b.Linears) {
				t.Errorf("%s: %s names %d linears, the block has %d", dir, what, len(n), len(b.Linears))
			}
		}
		names := append([]string{r.AttnOut}, r.MLPLinears...)
		for _, g := range r.AWQ {
			names = append(append(names, g.Layers...), g.Prev)
		}
		for _, p := range r.Smooth {
			names = append(names, p.Layers...)
		}
		for _, s := range names {
			if s != "" && !has(s) {
				t.Errorf("%s: rules name %q, not a linear of the block", dir, s)
			}
		}
		norms := map[string]bool{}
		for _, n := range b.Norms {
			norms[n.Short] = true
		}
		for _, p := range r.Smooth {
			if !norms[p.Norm.Short] {
				t.Errorf("%s: SmoothQuant norm %q is not a norm of the block", dir, p.Norm.Short)
			}
		}
	}
}

func TestArchitectureUnknown(t *testing.T) {
	if _, err := ArchitectureOf(&Config{Arch: "gpt2"}); err == nil {
		t.Fatal("unknown architecture accepted")
	}
}

// TestArchitectureComplete requires every registered architecture to
// describe all its parts, the differentiable forward included (package
// grad runs TrainEmbed, TrainBlock and TrainHead without a fallback), to
// be found by its name and each of its model types, and to be listed once.
func TestArchitectureComplete(t *testing.T) {
	for name, a := range architectures {
		missing := map[string]bool{
			"Class": a.Class == "", "parse": a.parse == nil, "build": a.build == nil, "layerFormat": a.layerFormat == "",
			"outside": a.outside == nil, "block": a.block == nil, "rules": a.rules == nil,
			"trainEmbed": a.trainEmbed == nil, "trainBlock": a.trainBlock == nil, "trainHead": a.trainHead == nil,
		}
		for part, m := range missing {
			if m {
				t.Errorf("architecture %s: %s is not set", name, part)
			}
		}
		if a.Name != name {
			t.Errorf("architecture registered as %s is named %s", name, a.Name)
		}
		if got, err := ArchitectureOf(&Config{Arch: name}); got != a || err != nil {
			t.Errorf("ArchitectureOf(%s) = %v, %v", name, got, err)
		}
		for _, mt := range a.ModelTypes {
			if got := architectureForModelType(mt); got != a {
				t.Errorf("model_type %s: architecture %v, want %s", mt, got, name)
			}
		}
	}
	if n := ArchitectureNames(); len(n) != len(architectures) {
		t.Errorf("ArchitectureNames() = %v: %d names for %d architectures", n, len(n), len(architectures))
	}
}
