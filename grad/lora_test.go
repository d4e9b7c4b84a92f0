package grad

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestLoRA checks, for a block of each architecture: the adapted targets,
// that fresh adapters leave the function unchanged, finite-difference
// gradients of the adapters and the input with frozen base weights, and
// that merging gives the adapted function with plain linears.
func TestLoRA(t *testing.T) {
	wantTargets := map[string]int{"llama-gqa": 14, "llama-bias": 7, "opt-pre": 12, "opt-post": 12, "chatglm": 8, "chatglm-ln-respost": 4, "llama-per-layer": 14, "opt-per-layer": 12, "chatglm-per-layer": 8}
	for name, cfg := range blockConfigs() {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, cfg, 2)
			targets := m.LoRATargets()
			if len(targets) != wantTargets[name] {
				t.Fatalf("%d LoRA targets %v, want %d", len(targets), targets, wantTargets[name])
			}
			const B, T = 2, 5
			rng := rand.New(rand.NewPCG(3, 3))
			x := randParam(rng, B*T, cfg.Hidden, 1)
			before := append([]float32(nil), m.Block(NewTape(), 0, x, B, T).Val...)
			if err := m.AddLoRA(targets, 2, 4, rand.New(rand.NewPCG(5, 5))); err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(m.Block(NewTape(), 0, x, B, T).Val, before); d != 0 {
				t.Fatalf("fresh adapters (B = 0) change the block output by %g", d)
			}
			// Train-like state: B no longer zero (in name order, so every run
			// draws the same values; map order made the check flaky).
			for _, n := range slices.Sorted(maps.Keys(m.LoRA)) {
				l := m.LoRA[n]
				for i := range l.B.Val {
					l.B.Val[i] = float32(0.3 * rng.NormFloat64())
				}
			}
			m.Freeze()
			// In name order: the check samples elements with one random
			// stream, so a map's order would make the test differ per run.
			wrt := []*Var{x}
			vars := m.LoRAVars()
			p0 := m.Architecture().LayerPrefix(0)
			for _, n := range slices.Sorted(maps.Keys(vars)) {
				if strings.HasPrefix(n, p0) {
					wrt = append(wrt, vars[n])
				}
			}
			gradCheck(t, name, func(tp *Tape) *Var { return m.Block(tp, 0, x, B, T) }, wrt, 2e-2)
			for _, s := range m.Specs {
				if g := m.Params[s.Name].Grad; g != nil {
					t.Fatalf("frozen %s got a gradient", s.Name)
				}
			}
			adapted := append([]float32(nil), m.Block(NewTape(), 0, x, B, T).Val...)
			if maxDiff(adapted, before) == 0 {
				t.Fatal("trained adapters do not change the output")
			}
			m.MergeLoRA()
			if m.LoRA != nil {
				t.Fatal("adapters left after merging")
			}
			if d := maxDiff(m.Block(NewTape(), 0, x, B, T).Val, adapted); d > 1e-5 {
				t.Errorf("merged block differs from the adapted one by %g", d)
			}
		})
	}
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestLoRABadInput checks that unknown targets and a zero rank are errors.
func TestLoRABadInput(t *testing.T) {
	m, err := InitModel(blockConfigs()["llama-gqa"], 1, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	if err := m.AddLoRA([]string{"model.layers.0.self_attn.nope"}, 2, 4, rng); err == nil {
		t.Error("unknown target accepted")
	}
	if err := m.AddLoRA(m.LoRATargets(), 0, 4, rng); err == nil {
		t.Error("rank 0 accepted")
	}
}
