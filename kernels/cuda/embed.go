// Package cudakernels holds the CUDA sources of gollm's GPU kernels and
// their compiled forms, embedded for package cuda (which loads them with
// cuModuleLoadData, so a Go build needs no nvcc).
//
// The sources (*.cu, common.cuh) are compiled by `make kernels` (the
// makefile fragment cuda/kernels.mk) into gollm.ptx — PTX for compute_80,
// which the driver JIT-compiles for any newer GPU — and gollm.fatbin — SASS
// for sm_80 and sm_90 plus that PTX. Both are committed. kernels.def lists
// every exported kernel; emu/ is a CPU emulator that runs the same sources
// for tests on machines without a GPU. Importing this package costs only the
// embedded bytes; it has no cgo and no build tags.
package cudakernels

import (
	_ "embed"
)

// PTX is gollm.ptx: every kernel, as compute_80 PTX.
//
//go:embed gollm.ptx
var PTX string

// Fatbin is gollm.fatbin: sm_80 and sm_90 SASS plus the compute_80 PTX.
//
//go:embed gollm.fatbin
var Fatbin []byte

// Def is kernels.def, the list of exported kernel names.
//
//go:embed kernels.def
var Def string
