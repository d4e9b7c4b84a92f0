package llmpruner

import (
	"math"
	"sort"

	"github.com/llmcbench/gollm/models"
)

// span is a run of vectors of one weight matrix: rows [lo, hi) (output
// channels) or, with cols, columns [lo, hi) (input channels).
type span struct {
	name   string // the weight's Hugging Face name
	cols   bool
	lo, hi int
}

// unit is one removable structure of a layer: a key/value group of
// attention heads, or one MLP channel. Its spans are the coupled vectors
// that go together (the dependency group of the reference).
type unit []span

// layerUnits lists the attention units (one per kv group, in order) and
// the MLP units (one per channel) of layer i of an unpruned model. The
// weights come from the models description's rules: the linears reading
// the attention input (q, k, v, or ChatGLM's fused query_key_value with
// the q, k and v rows stacked), the attention-output linear, and the MLP's
// linears by its kind (gated: gate and up rows with the down column; fused
// gated: rows c and I+c of the fused linear; plain: the fc1 row and fc2
// column).
func layerUnits(c *models.Config, i int) (attn, mlp []unit) {
	hd, kv := c.HeadDim, c.KVHeads
	qPer := c.Heads / kv
	gq := qPer * hd // query rows per kv group
	a, err := models.ArchitectureOf(c)
	if err != nil {
		return nil, nil
	}
	p := a.LayerPrefix(i)
	r := a.Rules(c)
	w := func(short string) string { return p + short + ".weight" }
	qkv, o := r.Inputs[0], w(r.AttnOut)
	for j := 0; j < kv; j++ {
		var u unit
		if len(qkv) == 3 {
			u = unit{
				{name: w(qkv[0]), lo: j * gq, hi: (j + 1) * gq},
				{name: w(qkv[1]), lo: j * hd, hi: (j + 1) * hd},
				{name: w(qkv[2]), lo: j * hd, hi: (j + 1) * hd},
			}
		} else { // fused: q rows, then k, then v
			qd, kvd := c.Heads*hd, kv*hd
			u = unit{
				{name: w(qkv[0]), lo: j * gq, hi: (j + 1) * gq},
				{name: w(qkv[0]), lo: qd + j*hd, hi: qd + (j+1)*hd},
				{name: w(qkv[0]), lo: qd + kvd + j*hd, hi: qd + kvd + (j+1)*hd},
			}
		}
		attn = append(attn, append(u, span{name: o, cols: true, lo: j * gq, hi: (j + 1) * gq}))
	}
	ls := r.MLPLinears
	down := w(ls[len(ls)-1])
	for ch := 0; ch < c.Intermediate; ch++ {
		var u unit
		switch r.MLP {
		case models.MLPGated:
			u = unit{{name: w(ls[0]), lo: ch, hi: ch + 1}, {name: w(ls[1]), lo: ch, hi: ch + 1}}
		case models.MLPFusedGated:
			u = unit{{name: w(ls[0]), lo: ch, hi: ch + 1}, {name: w(ls[0]), lo: c.Intermediate + ch, hi: c.Intermediate + ch + 1}}
		case models.MLPPlain:
			u = unit{{name: w(ls[0]), lo: ch, hi: ch + 1}}
		}
		mlp = append(mlp, append(u, span{name: down, cols: true, lo: ch, hi: ch + 1}))
	}
	return attn, mlp
}

// matrix is a weight with what the importance needs: values, gradient of
// the calibration loss and (Element2) the diagonal Fisher estimate.
type matrix struct {
	rows, cols int
	w, g, f    []float32
	hasBias    bool
}

// salience is the reference's per-element salience: w·g (first order), or
// w·g − ½·w·F·w (param_mix).
func salience(w, g float32, f []float32, k int) float64 {
	s := float64(w) * float64(g)
	if f != nil {
		s -= 0.5 * float64(w) * float64(f[k]) * float64(w)
	}
	return s
}

// vectorScores returns the importance of every row (cols false) or column
// of m: Σ|s| over the vector's elements (element-wise criteria) or |Σ s|
// (vectorize). One row-major pass.
func vectorScores(m *matrix, cols, vectorize bool) []float64 {
	n := m.rows
	if cols {
		n = m.cols
	}
	out := make([]float64, n)
	for r := 0; r < m.rows; r++ {
		row := r * m.cols
		var acc float64
		for c := 0; c < m.cols; c++ {
			s := salience(m.w[row+c], m.g[row+c], m.f, row+c)
			if !vectorize {
				s = math.Abs(s)
			}
			if cols {
				out[c] += s
			} else {
				acc += s
			}
		}
		if !cols {
			out[r] = acc
		}
	}
	if vectorize {
		for i, v := range out {
			out[i] = math.Abs(v)
		}
	}
	return out
}

// unitScoresRef is the plain definition the fast path (unitScores) must
// agree with: for every unit, the sum over its vectors of the vector's
// importance, each vector's elements visited directly.
func unitScoresRef(units []unit, mats map[string]*matrix, vectorize bool) []float64 {
	out := make([]float64, len(units))
	for ui, u := range units {
		for _, sp := range u {
			m := mats[sp.name]
			for v := sp.lo; v < sp.hi; v++ {
				var acc float64
				n := m.cols
				if sp.cols {
					n = m.rows
				}
				for e := 0; e < n; e++ {
					k := v*m.cols + e
					if sp.cols {
						k = e*m.cols + v
					}
					s := salience(m.w[k], m.g[k], m.f, k)
					if !vectorize {
						s = math.Abs(s)
					}
					acc += s
				}
				if vectorize {
					acc = math.Abs(acc)
				}
				out[ui] += acc
			}
		}
	}
	return out
}

// unitScores computes the importance of every unit (group reduction sum,
// the reference default) from per-vector scores computed once per matrix.
func unitScores(units []unit, mats map[string]*matrix, vectorize bool) []float64 {
	type key struct {
		name string
		cols bool
	}
	cache := map[key][]float64{}
	out := make([]float64, len(units))
	for ui, u := range units {
		for _, sp := range u {
			k := key{sp.name, sp.cols}
			vs, ok := cache[k]
			if !ok {
				vs = vectorScores(mats[sp.name], sp.cols, vectorize)
				cache[k] = vs
			}
			for v := sp.lo; v < sp.hi; v++ {
				out[ui] += vs[v]
			}
		}
	}
	return out
}

// unitParams counts the parameters a unit removes (weights and the biases
// of pruned rows).
func unitParams(u unit, mats map[string]*matrix) int {
	n := 0
	for _, sp := range u {
		m := mats[sp.name]
		k := sp.hi - sp.lo
		if sp.cols {
			n += k * m.rows
		} else {
			n += k * m.cols
			if m.hasBias {
				n += k
			}
		}
	}
	return n
}

// lowest returns the indices of the k least important units, ties broken
// by index (so the choice is deterministic).
func lowest(scores []float64, k int) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	out := append([]int(nil), idx[:k]...)
	sort.Ints(out)
	return out
}

// removal collects, per weight, the rows and columns to delete.
type removal struct {
	rows, cols map[string][]bool
}

func newRemoval() *removal {
	return &removal{rows: map[string][]bool{}, cols: map[string][]bool{}}
}

func (r *removal) add(u unit, mats map[string]*matrix) {
	for _, sp := range u {
		m := mats[sp.name]
		set, n := r.rows, m.rows
		if sp.cols {
			set, n = r.cols, m.cols
		}
		if set[sp.name] == nil {
			set[sp.name] = make([]bool, n)
		}
		for v := sp.lo; v < sp.hi; v++ {
			set[sp.name][v] = true
		}
	}
}

// shrink returns w [rows×cols] without the rows and columns marked in
// dropRows/dropCols (nil: none), and the new shape.
func shrink(w []float32, rows, cols int, dropRows, dropCols []bool) ([]float32, int, int) {
	keepC := make([]int, 0, cols)
	for c := 0; c < cols; c++ {
		if dropCols == nil || !dropCols[c] {
			keepC = append(keepC, c)
		}
	}
	out := make([]float32, 0, rows*len(keepC))
	nr := 0
	for r := 0; r < rows; r++ {
		if dropRows != nil && dropRows[r] {
			continue
		}
		nr++
		row := w[r*cols : (r+1)*cols]
		for _, c := range keepC {
			out = append(out, row[c])
		}
	}
	return out, nr, len(keepC)
}
