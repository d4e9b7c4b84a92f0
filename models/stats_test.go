package models

import (
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

// TestStatsCountsCheckpoint checks Params against the number of elements
// actually stored in each fixture checkpoint.
func TestStatsCountsCheckpoint(t *testing.T) {
	for _, name := range fixtures {
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
