//go:build cuda || cudaemu

package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/cuda"
)

// The cuda build (and the cudaemu build, which runs the same backend on a
// CPU emulator of its kernels) adds --device cuda; --dtype picks the
// storage dtype of weights and the KV cache (f16 by default, bf16, f32).
// The device and the GEMM library are reported on stderr.
func init() {
	registerDevice("cuda", func(dtype string) (backend.Backend, error) {
		b, err := cuda.New(0, cuda.Options{DType: dtype})
		if errors.Is(err, cuda.ErrBadOption) {
			return nil, usagef("--dtype %s: %v", dtype, err)
		}
		if err != nil {
			return nil, err
		}
		blas := b.BLAS()
		if blas == "" {
			blas = "no cuBLAS: own GEMM kernels"
		}
		fmt.Fprintf(os.Stderr, "cuda: %s, %s weights, %s\n", b.DeviceName(), b.DType(), blas)
		return b, nil
	})
}
