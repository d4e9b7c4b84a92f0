// Package kernels holds gollm's CPU compute: dense GEMM/GEMV (OpenBLAS
// through cgo, or a pure-Go fallback), quantized and 2:4 sparse kernels,
// and the transformer ops (norms, RoPE, softmax, attention). Every fast
// kernel sits beside a plain reference implementation and a test that holds
// the two together.
package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var maxThreads atomic.Int32

func init() { maxThreads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetMaxThreads sets how many goroutines ParallelFor may use (n < 1 means
// GOMAXPROCS).
func SetMaxThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	maxThreads.Store(int32(n))
}

// MaxThreads reports how many goroutines ParallelFor may use.
func MaxThreads() int { return int(maxThreads.Load()) }

// ParallelFor splits [0, n) into contiguous chunks of at least grain items
// and calls fn(lo, hi) for each chunk, using up to MaxThreads goroutines.
// The calling goroutine runs the first chunk itself, so a loop too small to
// split costs no goroutine at all.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	ParallelForWorker(n, grain, func(_, lo, hi int) { fn(lo, hi) })
}

// Workers returns how many chunks ParallelForWorker will use for n items
// of the given grain; worker indexes passed to fn are below it.
func Workers(n, grain int) int {
	if grain < 1 {
		grain = 1
	}
	w := MaxThreads()
	if c := (n + grain - 1) / grain; c < w {
		w = c
	}
	return max(w, 1)
}

// ParallelForWorker is ParallelFor that also passes each chunk's worker
// index (0 ≤ worker < Workers(n, grain)), so callers can give each worker
// its own preallocated scratch space.
func ParallelForWorker(n, grain int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := Workers(n, grain)
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w, lo := 1, chunk; lo < n; w, lo = w+1, lo+chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			fn(w, lo, hi)
		}(w, lo, hi)
	}
	fn(0, 0, min(chunk, n))
	wg.Wait()
}

// maxReduceChunks bounds how many chunks ReduceChunks makes, so a
// reduction holds at most that many partial results.
const maxReduceChunks = 32

// ReduceChunks returns how ParallelForChunks splits n items of the given
// grain: count chunks of size items (the last one shorter). Both depend on
// n and grain only, never on the thread count.
func ReduceChunks(n, grain int) (count, size int) {
	if n <= 0 {
		return 0, 0
	}
	size = max(grain, 1, (n+maxReduceChunks-1)/maxReduceChunks)
	return (n + size - 1) / size, size
}

// ParallelForChunks calls fn(c, lo, hi) for each chunk c of ReduceChunks(n,
// grain), [c·size, min((c+1)·size, n)), on up to MaxThreads goroutines. A
// reduction that keeps one partial result per chunk and combines the
// partials in chunk order gets the same bits for any thread count, which
// ParallelForWorker (whose chunks are one per worker) does not give.
func ParallelForChunks(n, grain int, fn func(c, lo, hi int)) {
	count, size := ReduceChunks(n, grain)
	ParallelFor(count, 1, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			fn(c, c*size, min((c+1)*size, n))
		}
	})
}
