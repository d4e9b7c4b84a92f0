package main

import (
	"context"
	"fmt"
	"io"

	"github.com/llmcbench/gollm/models"
)

func init() {
	register(command{name: "info", summary: "describe a model folder: architecture, parameters, weight formats, MACs", run: runInfo})
}

type infoOutput struct {
	Model       string       `json:"model"`
	Arch        string       `json:"arch"`
	ModelType   string       `json:"model_type"`
	Layers      int          `json:"layers"`
	Hidden      int          `json:"hidden"`
	Heads       int          `json:"heads"`
	KVHeads     int          `json:"kv_heads"`
	Vocab       int          `json:"vocab"`
	MaxPos      int          `json:"max_position_embeddings"`
	Stats       models.Stats `json:"stats"`
	MACsPerSeq  int64        `json:"macs"`
	MACsSeqLen  int          `json:"macs_seqlen"`
	Shards      int          `json:"shards"`
	StoredDType string       `json:"stored_dtype"`
}

func runInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("info", stderr)
	model := fs.String("model", "", "Hugging Face model folder")
	seqlen := fs.Int("seqlen", 2048, "sequence length for the MAC count")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *seqlen <= 0 || *seqlen > 1<<24 {
		return usagef("--seqlen %d: want 1 to %d positions", *seqlen, 1<<24)
	}
	m, err := loadModel(*model, cf, false, 0)
	if err != nil {
		return err
	}
	defer m.Close()
	c := m.Config
	out := infoOutput{Model: *model, Arch: c.Arch, ModelType: c.ModelType, Layers: c.Layers, Hidden: c.Hidden,
		Heads: c.Heads, KVHeads: c.KVHeads, Vocab: c.Vocab, MaxPos: c.MaxPos, Stats: m.Stats(),
		MACsPerSeq: c.MACs(*seqlen), MACsSeqLen: *seqlen, StoredDType: c.DType.String()}
	if ck := m.Checkpoint(); ck != nil {
		out.Shards = len(ck.Files())
	}
	if cf.json {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "%s\nparameters: %d (linear %d, %.1f MB as stored in memory; formats %v)\nMACs for %d tokens: %.3g\n",
		m.Describe(), out.Stats.Params, out.Stats.LinearParams, float64(out.Stats.LinearBytes)/1e6, out.Stats.Formats, *seqlen, float64(out.MACsPerSeq))
	return nil
}
