//go:build cuda || cudaemu

package cuda

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// nativeDType is the dtype a fixture's checkpoint is stored in: in it the
// GPU holds exactly the weights the CPU computes with.
func nativeDType(t *testing.T, dir string) dtype {
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for _, n := range ck.Names() {
		if info, ok := ck.Info(n); ok && info.DType == tensor.BF16 {
			return bf16
		}
	}
	return f16
}

// TestFixtureLogits runs every fixture model on the GPU and on the CPU and
// compares the logits of a prefill of each reference row, of a token-by-
// token decode of the same row (the GEMV and split-attention path), and the
// greedy generations. In f32 the GPU must agree to 1e-5 (relative to the
// largest logit); in the checkpoint's own f16 to 1e-3. bf16 rounds the KV
// cache and the prefill GEMMs' inputs to 8 significant bits (2⁻⁹ ≈ 2e-3 per
// rounding), so with a bf16 cache it is held to 1e-2, and to 1e-3 with an
// f32 cache and the engine's own GEMM (where only the — exact — weights are
// bf16). On the emulator only the first row is decoded token by token and
// greedy generation runs once per fixture, to keep the run short.
func TestFixtureLogits(t *testing.T) {
	for _, name := range testfs.Fixtures {
		dir := filepath.Join("..", "testdata", name)
		native := nativeDType(t, dir)
		cpu, err := models.Load(dir, models.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ref := testref.Load(t, filepath.Join(dir, "reference.safetensors"))
		rows, greedy := ref.Rows, ref.Greedy
		tol16 := map[dtype]float64{f16: 1e-3, bf16: 1e-2}[native]
		for i, c := range []struct {
			dt, kv dtype
			noBLAS bool
			tol    float64
		}{
			{native, native, false, tol16},
			{f32, f32, false, 1e-5},
			{native, native, true, tol16},
			{native, f32, true, 1e-3},
		} {
			t.Run(fmt.Sprintf("%s/%s/kv=%s/noBLAS=%v", name, c.dt, c.kv, c.noBLAS), func(t *testing.T) {
				g := gpuKV(t, c.dt, c.kv, c.noBLAS)
				m, err := models.Load(dir, models.Options{Backend: g})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				V := m.Config.Vocab
				for b, ids := range rows {
					decode := !emulated || b == 0
					sc, sg := cpu.NewState(0), m.NewState(0)
					want, err := sc.Append(ids)
					if err != nil {
						t.Fatal(err)
					}
					want = append([]float32(nil), want...)
					got, err := sg.Append(ids)
					if err != nil {
						t.Fatal(err)
					}
					if e := testref.RelErr(got, want); e > c.tol {
						t.Errorf("row %d: prefill logits relative error %.3g > %.3g", b, e, c.tol)
					}
					// Decode: the first 4 tokens as a prefill, then one at a time.
					sg = m.NewState(0)
					if _, err := sg.Append(ids[:4]); err != nil {
						t.Fatal(err)
					}
					for i := 4; i < len(ids) && decode; i++ {
						got, err := sg.AppendLast(ids[i : i+1])
						if err != nil {
							t.Fatal(err)
						}
						if e := testref.RelErr(got, want[i*V:(i+1)*V]); e > c.tol {
							t.Errorf("row %d: decode step %d logits relative error %.3g > %.3g", b, i, e, c.tol)
							break
						}
					}
				}
				// Greedy generation: 8 prompt tokens, then as many new ones as
				// the reference has (16).
				if emulated && i > 0 {
					return
				}
				prompt := greedy[:8]
				opt := models.GenerateOptions{MaxNewTokens: len(greedy) - 8, Greedy: true}
				wantGen, err := cpu.Generate(context.Background(), prompt, opt)
				if err != nil {
					t.Fatal(err)
				}
				gotGen, err := m.Generate(context.Background(), prompt, opt)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(gotGen.IDs) != fmt.Sprint(wantGen.IDs) {
					t.Errorf("greedy: GPU %v, CPU %v", gotGen.IDs, wantGen.IDs)
				}
				if fmt.Sprint(gotGen.IDs) != fmt.Sprint(greedy[8:]) {
					t.Errorf("greedy: GPU %v, reference %v", gotGen.IDs, greedy[8:])
				}
			})
		}
		cpu.Close()
	}
}

// TestLazyBlocks streams a model through the GPU block by block, as
// block-wise compression does: each block is built on the device, run on
// host activations with ForwardBlock and released, and the results match
// the CPU's.
func TestLazyBlocks(t *testing.T) {
	dir := filepath.Join("..", "testdata", "llama3-tiny")
	rows := testref.Load(t, filepath.Join(dir, "reference.safetensors")).Rows
	ids := rows[0]
	cpu, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	m, err := models.Load(dir, models.Options{Backend: gpuKV(t, bf16, f32, true), Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sc, sg := cpu.NewState(0), m.NewState(0)
	want, err := cpu.Embed(sc, ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Embed(sg, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < m.NumLayers(); i++ {
		if err := m.LoadBlock(i); err != nil {
			t.Fatal(err)
		}
		if err := cpu.ForwardBlock(sc, i, want); err != nil {
			t.Fatal(err)
		}
		if err := m.ForwardBlock(sg, i, got); err != nil {
			t.Fatal(err)
		}
		m.ReleaseBlock(i)
		if e := testref.RelErr(got, want); e > 1e-5 {
			t.Errorf("block %d: hidden states relative error %.3g", i, e)
		}
	}
	gl, err := m.Logits(sg, got)
	if err != nil {
		t.Fatal(err)
	}
	wl, err := cpu.Logits(sc, want)
	if err != nil {
		t.Fatal(err)
	}
	if e := testref.RelErr(gl, wl); e > 1e-5 {
		t.Errorf("logits relative error %.3g", e)
	}
}

// TestLinearHook: a State's LinearHook works on the GPU backend (the
// model reads each linear's input back to the host for it) and sees, in
// f32, the rows the CPU's hook sees.
func TestLinearHook(t *testing.T) {
	dir := filepath.Join("..", "testdata", "llama3-tiny")
	rows := testref.Load(t, filepath.Join(dir, "reference.safetensors")).Rows
	type seen struct {
		names []string
		rows  [][]float32
	}
	capture := func(m *models.Model) seen {
		var s seen
		st := m.NewState(0)
		st.LinearHook = func(l *models.Linear, x []float32, n int) {
			s.names = append(s.names, l.Name)
			s.rows = append(s.rows, append([]float32(nil), x...))
		}
		if _, err := st.Append(rows[0]); err != nil {
			t.Fatal(err)
		}
		return s
	}
	cpu, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	m, err := models.Load(dir, models.Options{Backend: gpuKV(t, f32, f32, false)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, got := capture(cpu), capture(m)
	if fmt.Sprint(got.names) != fmt.Sprint(want.names) {
		t.Fatalf("GPU hook saw %v, CPU %v", got.names, want.names)
	}
	for i := range want.rows {
		if len(got.rows[i]) != len(want.rows[i]) {
			t.Fatalf("%s: GPU hook saw %d values, CPU %d", want.names[i], len(got.rows[i]), len(want.rows[i]))
		}
		if e := testref.RelErr(got.rows[i], want.rows[i]); e > 1e-4 {
			t.Errorf("%s: input rows relative error %.3g > 1e-4", want.names[i], e)
		}
	}
}
