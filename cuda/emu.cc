//go:build cudaemu

// emu.cc compiles the kernel sources and the emulator runtime into the
// cudaemu build of package cuda (see kernels/cuda/emu).
#define GOLLM_EMU 1
#include "../kernels/cuda/gollm.cu"
#include "../kernels/cuda/emu/runtime.cc"
