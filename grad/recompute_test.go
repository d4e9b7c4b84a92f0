package grad

import (
	"math"
	"testing"
)

// TestRecomputeSameGradients checks that gradient checkpointing gives the
// loss and every parameter gradient of the plain backward pass, for each
// architecture.
func TestRecomputeSameGradients(t *testing.T) {
	ids := []int{1, 5, 9, 2, 2, 7, 3, 0, 10, 4}
	targets := []int{5, 9, 2, 2, -1, 3, 0, 10, 4, 6}
	for name, cfg := range blockConfigs() {
		t.Run(name, func(t *testing.T) {
			grads := map[bool]map[string][]float32{}
			losses := map[bool]float64{}
			for _, rc := range []bool{false, true} {
				m := randomModel(t, cfg, 4)
				l, err := m.LossBackward(ids, targets, 2, 5, rc)
				if err != nil {
					t.Fatal(err)
				}
				losses[rc] = l
				grads[rc] = map[string][]float32{}
				for _, s := range m.Specs {
					grads[rc][s.Name] = m.Params[s.Name].Grad
				}
			}
			if losses[true] != losses[false] {
				t.Errorf("loss %v with recomputation, %v without", losses[true], losses[false])
			}
			nonzero := 0
			for n, g := range grads[false] {
				r := grads[true][n]
				if len(r) != len(g) {
					t.Fatalf("%s: gradient of %d values with recomputation, %d without", n, len(r), len(g))
				}
				var d, s float64
				for i := range g {
					d = math.Max(d, math.Abs(float64(r[i]-g[i])))
					s = math.Max(s, math.Abs(float64(g[i])))
				}
				if s > 0 {
					nonzero++
				}
				if d > 1e-6*math.Max(s, 1e-6) {
					t.Errorf("%s: gradients differ by %g (max %g)", n, d, s)
				}
			}
			if nonzero < len(grads[false])/2 {
				t.Fatalf("only %d of %d gradients are nonzero", nonzero, len(grads[false]))
			}
		})
	}
	m, _ := InitModel(blockConfigs()["llama-gqa"], 1, 0.02)
	if _, err := m.LossBackward(ids, targets[:3], 2, 5, true); err == nil {
		t.Error("short targets accepted")
	}
}
