package grad

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// golden is the file of the SHA-256 of the losses and gradients
// TestGolden's cases compute.
var golden = testfs.Golden{
	File: "../testdata/golden/grad.sha256",
	Pkg:  "./grad",
	Header: []string{
		"SHA-256 of the losses and gradients (every parameter, every LoRA adapter) of three training steps of grad.Model",
		"for TestGolden's cases (grad/golden_test.go).",
	},
}

// TestGolden pins the bits of the differentiable forward and backward:
// on every fixture, and on variants of their configs that take the other
// branches of each family's block (tied LLaMA head; OPT's GELU; ChatGLM's
// LayerNorm, residual after the norm and no final norm), it runs three
// steps — loss, backward, a plain gradient step — with LoRA adapters on
// every block linear, once without and once with block hooks, the third
// step with recomputation, and hashes each step's loss and every gradient.
func TestGolden(t *testing.T) {
	golden.Start(t, kernels.BLAS())
	type gcase struct {
		key     string
		fixture string
		edit    func(c *models.Config)
		hooks   bool
	}
	var cases []gcase
	for _, f := range testfs.Fixtures {
		cases = append(cases, gcase{key: f, fixture: f}, gcase{key: f + "/hooks", fixture: f, hooks: true})
	}
	cases = append(cases,
		gcase{key: "llama2-tiny/tied", fixture: "llama2-tiny", edit: func(c *models.Config) { c.TieEmbed = true }},
		gcase{key: "opt-tiny/gelu", fixture: "opt-tiny", edit: func(c *models.Config) { c.HiddenAct = "gelu" }},
		gcase{key: "chatglm3-tiny/layernorm-postln-nofinal", fixture: "chatglm3-tiny", hooks: true, edit: func(c *models.Config) {
			c.RMSNorm, c.ResidualPostLN, c.PostLayerNorm = false, true, false
		}},
	)
	got := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			src, err := LoadModel(filepath.Join("..", "testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			cfg := *src.Config
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			params := map[string][]float32{}
			for n, p := range src.Params {
				params[n] = p.Val
			}
			m, err := NewModel(&cfg, params)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 11))
			if err := m.AddLoRA(m.LoRATargets(), 2, 4, rng); err != nil {
				t.Fatal(err)
			}
			for _, n := range m.LoRATargets() { // non-zero B, so the adapters change the function
				l := m.LoRA[n]
				for i := range l.B.Val {
					l.B.Val[i] = float32(rng.NormFloat64() * 0.05)
				}
			}
			if tc.hooks {
				m.Hooks = &BlockHooks{
					Input: func(t *Tape, leader string, x *Var) *Var { return t.Scale(x, 1.25) },
					QKV:   func(t *Tape, x *Var) *Var { return t.Scale(x, 0.75) },
				}
			}
			const batch, seqLen = 2, 6
			ids, targets := make([]int, batch*seqLen), make([]int, batch*seqLen)
			for i := range ids {
				ids[i], targets[i] = rng.IntN(cfg.Vocab), rng.IntN(cfg.Vocab)
			}
			h := sha256.New()
			lora := m.LoRAVars()
			for step := 0; step < 3; step++ {
				loss, err := m.LossBackward(ids, targets, batch, seqLen, step == 2)
				if err != nil {
					t.Fatal(err)
				}
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					t.Fatalf("step %d: loss %v", step, loss)
				}
				binary.Write(h, binary.LittleEndian, math.Float64bits(loss))
				vars := make([]*Var, 0, len(m.Specs)+len(lora))
				for _, s := range m.Specs {
					vars = append(vars, m.Params[s.Name])
				}
				for _, n := range m.LoRATargets() {
					vars = append(vars, lora[n+".lora_A"], lora[n+".lora_B"])
				}
				for _, v := range vars {
					hashGrad(h, v)
					for i, g := range v.Grad {
						v.Val[i] -= 0.05 * g
					}
					v.ZeroGrad()
				}
			}
			got[tc.key] = fmt.Sprintf("%x", h.Sum(nil))
		})
	}
	golden.Finish(t, kernels.BLAS(), got)
}

// hashGrad writes v's gradient (zeros when it has none) to h.
func hashGrad(h hash.Hash, v *Var) {
	if v.Grad == nil {
		binary.Write(h, binary.LittleEndian, make([]float32, len(v.Val)))
		return
	}
	binary.Write(h, binary.LittleEndian, v.Grad)
}
