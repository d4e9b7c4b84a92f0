// gollm.cu — the one CUDA module of the engine: every kernel family,
// compiled together by `make kernels` into gollm.ptx (compute_80 PTX, JIT-
// compiled by the driver on load) and gollm.fatbin (sm_80 and sm_90 SASS
// plus that PTX). The exported kernel names are listed in kernels.def.
#include "elementwise.cu"
#include "norm.cu"
#include "rope.cu"
#include "attention.cu"
#include "gemv.cu"
#include "gemm.cu"
