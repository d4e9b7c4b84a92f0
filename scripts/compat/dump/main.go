// Command dump loads a checkpoint with gollm (models.Load, which reads the
// packed formats through models/packed) and writes the float32 weights that
// gollm computes with for every decoder-block linear layer to a
// safetensors file, as [out, in] tensors named like the layer's weight.
// scripts/compat/check.py compares them with the peers' own
// dequantization of the same checkpoint.
//
//	go run ./scripts/compat/dump DIR OUT.safetensors
package main

import (
	"fmt"
	"os"

	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: dump MODEL_DIR OUT.safetensors")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "dump:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		return err
	}
	defer m.Close()
	var ts []*tensor.Tensor
	for i := 0; i < m.NumLayers(); i++ {
		for _, l := range m.Linears(i) {
			o, in := l.Host.Dims()
			t, err := tensor.Encode(l.Name+".weight", tensor.F32, []int{o, in}, packed.Weights(l.Host))
			if err != nil {
				return err
			}
			ts = append(ts, t)
			fmt.Printf("%s\t%s\n", l.Name, l.Host.Format())
		}
	}
	return tensor.WriteFile(out, ts, nil)
}
