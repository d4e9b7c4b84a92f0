package models

import (
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/tensor"
)

// TestStatsCountsCheckpoint checks Params against the number of elements
// actually stored in each fixture checkpoint.
func TestStatsCountsCheckpoint(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			var stored int64
			ck := m.Checkpoint()
			for _, n := range ck.Names() {
				info, _ := ck.Info(n)
				stored += int64(tensor.Numel(info.Shape))
			}
			st := m.Stats()
			if st.Params != stored {
				t.Errorf("Params = %d, checkpoint stores %d", st.Params, stored)
			}
			if st.LinearBytes != 4*st.LinearParams || st.Formats["f32"] == 0 {
				t.Errorf("dense f32 model: %+v", st)
			}
		})
	}
}

func TestMACs(t *testing.T) {
	// LLaMA-2-7B: 6.74e9 parameters, of which 6.48e9 in linear layers incl. the
	// head; per token ≈ 6.48e9 MACs plus attention.
	c := &Config{Arch: "llama", Vocab: 32000, Hidden: 4096, Intermediate: 11008, Layers: 32, Heads: 32, KVHeads: 32, HeadDim: 128}
	perTok := c.MACs(1) - 2*4096*32 // one token: attention over itself
	if perTok != 6_607_077_376 {
		t.Errorf("LLaMA-2-7B linear MACs per token = %d", perTok)
	}
	if c.MACs(2048) <= 2048*perTok {
		t.Error("attention MACs missing")
	}
}

// MACs counts every layer at its own size: halving the heads of every
// layer of an OPT model (as LLM-Pruner writes them, per layer) removes
// half the q, k, v rows and o columns (4·h·qd/2 MACs per layer and token)
// and half of the attention products.
func TestMACsPerLayerHeads(t *testing.T) {
	for _, name := range []string{"opt350-tiny", "llama2-tiny"} {
		t.Run(name, func(t *testing.T) {
			c, err := LoadConfig("../testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			dense := c.MACs(1)
			half := *c
			half.HeadsPerLayer, half.KVHeadsPerLayer = make([]int, c.Layers), make([]int, c.Layers)
			for i := range c.Layers {
				half.HeadsPerLayer[i], half.KVHeadsPerLayer[i] = c.Heads/2, c.KVHeads/2
			}
			qd, kvd, h := int64(c.Heads*c.HeadDim), int64(c.KVHeads*c.HeadDim), int64(c.Hidden)
			want := int64(c.Layers) * (h*qd/2 + 2*h*kvd/2 + qd/2*h + 2*qd/2)
			if got := dense - half.MACs(1); got != want {
				t.Errorf("halving the heads removes %d MACs, want %d", got, want)
			}
		})
	}
}
