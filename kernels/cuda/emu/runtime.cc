// runtime.cc — the CPU emulator's launcher, fibers and cuBLAS stand-in.
//
// Included (with the kernel sources) by one C++ file of the Go package
// that drives it (cuda/emu.cc, behind the cudaemu build tag). A launch runs
// the blocks of the grid in order; inside a block, each CUDA thread is a
// fiber with its own stack. A fiber runs until it reaches a synchronisation
// point and parks there:
//   - __syncthreads: released when every live thread of the block waits
//     at a barrier;
//   - a warp shuffle: the lane publishes its value, and the warp is
//     released when its 32 lanes have all arrived; values are double-
//     buffered by shuffle parity so early lanes cannot overwrite a value a
//     late lane has yet to read.
// A pass that releases nothing while fibers still wait is a deadlock
// (a barrier some threads skip, a shuffle with exited lanes): the launch
// fails with a message naming the kernel and the block. Each pass resumes
// the fibers from a pseudo-random thread, forwards or backwards, so that a
// missing __syncthreads tends to show up as a wrong result.
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <mutex>
#include <utility>
#include <vector>

thread_local EmuFiber* emu_fiber;
thread_local EmuBlock* emu_block;

namespace {

enum { READY = 0, WAIT_BLOCK = 1, WAIT_WARP = 2, DONE = 3 };

const size_t kStack = 256 << 10;

#if defined(__x86_64__)
extern "C" void emu_switch(void** save_sp, void* to_sp);
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size emu_switch, .-emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");
#else
#error "the CUDA emulator's context switch is written for x86-64"
#endif

struct Launch {
  void (*thunk)(void* fn, void** args);
  void* fn;
  void** args;
  EmuBlock block;
  std::vector<EmuFiber> fibers;
  std::vector<char*> stacks;
  std::vector<uint32_t> xchg;  // [warps][2][32]
  void* sched_sp;
  unsigned rng;
};

thread_local Launch* cur;

void fiber_main() {
  cur->thunk(cur->fn, cur->args);
  emu_fiber->state = DONE;
  emu_switch(&emu_fiber->sp, cur->sched_sp);
  abort();  // a finished fiber is never resumed
}

void park(int state) {
  emu_fiber->state = state;
  emu_switch(&emu_fiber->sp, cur->sched_sp);
}

void* initial_sp(char* stack) {
  uintptr_t top = ((uintptr_t)(stack + kStack)) & ~(uintptr_t)15;
  void** sp = (void**)top;
  *--sp = nullptr;                   // alignment slot: fiber_main starts with rsp ≡ 8 (mod 16)
  *--sp = (void*)&fiber_main;        // "return address" of the first switch
  for (int i = 0; i < 6; i++) *--sp = nullptr;  // rbp rbx r12 r13 r14 r15
  return sp;
}

// stack pool, reused across launches
std::vector<char*> stack_pool;
std::mutex stack_mu;

char* get_stack() {
  std::lock_guard<std::mutex> lock(stack_mu);
  if (!stack_pool.empty()) {
    char* s = stack_pool.back();
    stack_pool.pop_back();
    return s;
  }
  void* p = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : (char*)p;
}

void put_stacks(const std::vector<char*>& s) {
  std::lock_guard<std::mutex> lock(stack_mu);
  stack_pool.insert(stack_pool.end(), s.begin(), s.end());
}

int run_block(Launch* L, char* err, int errlen, const char* name) {
  const unsigned n = L->block.bdim.x * L->block.bdim.y * L->block.bdim.z;
  const unsigned nwarps = (n + 31) / 32;
  for (unsigned t = 0; t < n; t++) {
    EmuFiber& f = L->fibers[t];
    f.tid.x = t % L->block.bdim.x;
    f.tid.y = (t / L->block.bdim.x) % L->block.bdim.y;
    f.tid.z = t / (L->block.bdim.x * L->block.bdim.y);
    f.lane = t & 31;
    f.warp = t >> 5;
    f.state = READY;
    f.shuffles = 0;
    f.sp = initial_sp(L->stacks[t]);
  }
  emu_block = &L->block;
  for (;;) {
    // A different interleaving every pass: a pseudo-random starting thread,
    // forwards or backwards.
    L->rng = L->rng * 1103515245u + 12345u;
    const unsigned start = (L->rng >> 8) % n;
    const bool backwards = (L->rng >> 30) & 1;
    for (unsigned i = 0; i < n; i++) {
      const unsigned t = backwards ? (start + n - i) % n : (start + i) % n;
      EmuFiber& f = L->fibers[t];
      if (f.state != READY) continue;
      emu_fiber = &f;
      emu_switch(&L->sched_sp, f.sp);
    }
    bool all_done = true, released = false;
    unsigned live = 0, at_barrier = 0;
    for (unsigned t = 0; t < n; t++) {
      const int s = L->fibers[t].state;
      if (s != DONE) all_done = false, live++;
      if (s == WAIT_BLOCK) at_barrier++;
    }
    if (all_done) return 0;
    if (at_barrier == live) {
      for (unsigned t = 0; t < n; t++)
        if (L->fibers[t].state == WAIT_BLOCK) L->fibers[t].state = READY;
      continue;
    }
    for (unsigned w = 0; w < nwarps; w++) {
      const unsigned lo = w * 32, hi = lo + 32 < n ? lo + 32 : n;
      unsigned waiting = 0;
      for (unsigned t = lo; t < hi; t++) waiting += L->fibers[t].state == WAIT_WARP;
      if (waiting == 0) continue;
      if (waiting == 32) {
        for (unsigned t = lo; t < hi; t++) L->fibers[t].state = READY;
        released = true;
      }
    }
    if (!released) {
      snprintf(err, errlen,
               "emulator: %s: block (%u,%u,%u): deadlock: %u of %u threads live, %u at __syncthreads, the rest at a warp "
               "shuffle whose warp is incomplete (divergent barrier, exited lanes or a partial warp)",
               name, L->block.bid.x, L->block.bid.y, L->block.bid.z, live, n, at_barrier);
      return 1;
    }
  }
}

}  // namespace

void __syncthreads() { park(WAIT_BLOCK); }

uint32_t emu_shuffle_xor(uint32_t v, int lane_mask, int width) {
  EmuFiber* f = emu_fiber;
  uint32_t* x = &cur->xchg[(size_t)f->warp * 64 + (f->shuffles & 1) * 32];
  f->shuffles++;
  x[f->lane] = v;
  park(WAIT_WARP);
  const int src = (f->lane & ~(width - 1)) | ((f->lane ^ lane_mask) & (width - 1));
  return x[src];
}

// ---- kernel registry ----------------------------------------------------------

namespace {

struct Kernel {
  const char* name;
  void* fn;
  void (*thunk)(void*, void**);
};

template <class... A, size_t... I>
void invoke(void (*f)(A...), void** args, std::index_sequence<I...>) {
  f(*static_cast<A*>(args[I])...);
}
template <class... A>
void thunk_of(void* f, void** args) {
  invoke(reinterpret_cast<void (*)(A...)>(f), args, std::index_sequence_for<A...>{});
}
template <class... A>
Kernel kernel(const char* name, void (*f)(A...)) {
  return Kernel{name, reinterpret_cast<void*>(f), &thunk_of<A...>};
}

#define X(name) kernel(#name, name),
const Kernel kernels[] = {
#include "../kernels.def"
};
#undef X

}  // namespace

extern "C" {

int emu_kernel_count(void) { return (int)(sizeof(kernels) / sizeof(kernels[0])); }
const char* emu_kernel_name(int i) { return kernels[i].name; }

// emu_launch runs kernel k over the grid; args[i] points at argument i
// (as cuLaunchKernel's kernelParams). Returns 0, or 1 with err filled.
int emu_launch(int k, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void** args,
               char* err, int errlen) {
  const char* name = kernels[k].name;
  const unsigned n = bx * by * bz;
  if (n == 0 || n > 1024 || bz > 64 || gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535 ||
      gx > 0x7fffffffu) {
    snprintf(err, errlen, "emulator: %s: invalid launch grid (%u,%u,%u) block (%u,%u,%u)", name, gx, gy, gz, bx, by,
             bz);
    return 1;
  }
  Launch L;
  L.thunk = kernels[k].thunk;
  L.fn = kernels[k].fn;
  L.args = args;
  L.block.bdim = dim3{bx, by, bz};
  L.block.gdim = dim3{gx, gy, gz};
  L.fibers.resize(n);
  L.xchg.assign((size_t)((n + 31) / 32) * 64, 0);
  L.rng = 0x9e3779b9u ^ (unsigned)k;
  for (unsigned t = 0; t < n; t++) {
    char* s = get_stack();
    if (!s) {
      snprintf(err, errlen, "emulator: %s: cannot map fiber stacks", name);
      put_stacks(L.stacks);
      return 1;
    }
    L.stacks.push_back(s);
  }
  Launch* saved = cur;
  cur = &L;
  int rc = 0;
  for (unsigned z = 0; z < gz && rc == 0; z++)
    for (unsigned y = 0; y < gy && rc == 0; y++)
      for (unsigned x = 0; x < gx && rc == 0; x++) {
        L.block.bid = dim3{x, y, z};
        rc = run_block(&L, err, errlen, name);
      }
  cur = saved;
  put_stacks(L.stacks);
  return rc;
}

// emu_gemm is cuBLAS's cublasGemmStridedBatchedEx restricted to what the
// engine uses: column-major, A and B of type atype (0 f32, 2 f16, 14
// bf16), C f32, f32 accumulation; C is not read when beta == 0.
int emu_gemm(int transa, int transb, int m, int n, int k, float alpha, const void* A, int atype, int lda,
             long long strideA, const void* B, int ldb, long long strideB, float beta, float* C, int ldc,
             long long strideC, int batch) {
  auto load = [atype](const void* p, long long i) -> float {
    switch (atype) {
      case 0:
        return static_cast<const float*>(p)[i];
      case 2:
        return __half2float(static_cast<const __half*>(p)[i]);
      default:
        return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    }
  };
  const int esize = atype == 0 ? 4 : 2;
  for (int b = 0; b < batch; b++) {
    const char* Ab = static_cast<const char*>(A) + (long long)b * strideA * esize;
    const char* Bb = static_cast<const char*>(B) + (long long)b * strideB * esize;
    float* Cb = C + (long long)b * strideC;
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        float acc = 0.f;
        for (int l = 0; l < k; l++) {
          const float a = transa ? load(Ab, l + (long long)i * lda) : load(Ab, i + (long long)l * lda);
          const float bv = transb ? load(Bb, j + (long long)l * ldb) : load(Bb, l + (long long)j * ldb);
          acc += a * bv;
        }
        float* c = &Cb[i + (long long)j * ldc];
        *c = beta == 0.f ? alpha * acc : alpha * acc + beta * *c;
      }
  }
  return 0;
}

}  // extern "C"
