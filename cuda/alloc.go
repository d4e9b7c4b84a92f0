//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"runtime"
	"sync"
	"time"
)

// buffer is one device allocation. It goes back to its pool's cache when the
// buffer becomes unreachable (tensors, weights and caches hold it), so device
// memory follows the Go objects that use it without explicit frees.
type buffer struct {
	p    devPtr
	size int64
}

type allocation struct {
	p    devPtr
	size int64
}

// pool is a caching device allocator: freed buffers are kept by size and
// handed out again (the decode loop and layer-by-layer loading then never
// call cuMemAlloc, which synchronises the device). All work runs on one
// stream, so a buffer reused while earlier kernels still read it is only
// written after they finish.
type pool struct {
	d      driver
	mu     sync.Mutex
	free   map[int64][]devPtr
	cached int64 // bytes in free lists
	inUse  int64 // bytes handed out
	live   map[devPtr]int64
	closed bool
}

func newPool(d driver) *pool {
	return &pool{d: d, free: map[int64][]devPtr{}, live: map[devPtr]int64{}}
}

// allocGranularity is what request sizes are rounded up to, so that sizes
// repeat exactly across layers and the cache finds them. (The emulator uses
// 4, so that an out-of-bounds access by a kernel runs past the C heap
// allocation, where AddressSanitizer sees it: go test -asan -tags cudaemu.)
var allocGranularity int64 = 512

// roundSize rounds a request up to a multiple of allocGranularity.
func roundSize(n int64) int64 {
	if n < 1 {
		n = 1
	}
	return (n + allocGranularity - 1) / allocGranularity * allocGranularity
}

// errClosed is returned after Close.
var errClosed = errors.New("cuda: backend is closed")

// get returns a buffer of at least n bytes (contents undefined).
func (pl *pool) get(n int64) (*buffer, error) {
	size := roundSize(n)
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil, errClosed
	}
	var p devPtr
	if l := pl.free[size]; len(l) > 0 {
		p = l[len(l)-1]
		pl.free[size] = l[:len(l)-1]
		pl.cached -= size
	}
	pl.mu.Unlock()
	if p == 0 {
		var err error
		p, err = pl.d.alloc(size)
		// Out of memory: return the cache to the driver, then let the
		// garbage collector find unreachable buffers, and retry.
		for attempt := 0; err != nil && attempt < 4; attempt++ {
			if attempt > 0 {
				runtime.GC()
				time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
			}
			pl.trim()
			p, err = pl.d.alloc(size)
		}
		if err != nil {
			return nil, err
		}
	}
	pl.mu.Lock()
	pl.inUse += size
	pl.live[p] = size
	pl.mu.Unlock()
	b := &buffer{p: p, size: size}
	runtime.AddCleanup(b, pl.put, allocation{p, size})
	return b, nil
}

// put returns an allocation to the cache (called by the buffer's cleanup).
func (pl *pool) put(a allocation) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return
	}
	delete(pl.live, a.p)
	pl.inUse -= a.size
	pl.free[a.size] = append(pl.free[a.size], a.p)
	pl.cached += a.size
}

// trim frees every cached allocation, after waiting for the device: a cached
// buffer may still be read by queued kernels.
func (pl *pool) trim() {
	_ = pl.d.sync()
	pl.mu.Lock()
	var ps []devPtr
	for size, l := range pl.free {
		ps = append(ps, l...)
		delete(pl.free, size)
	}
	pl.cached = 0
	pl.mu.Unlock()
	for _, p := range ps {
		_ = pl.d.free(p)
	}
}

// stats returns the bytes handed out and cached.
func (pl *pool) stats() (inUse, cached int64) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.inUse, pl.cached
}

// close frees everything, live or cached; later cleanups are ignored.
func (pl *pool) close() {
	pl.trim()
	pl.mu.Lock()
	pl.closed = true
	live := pl.live
	pl.live = nil
	pl.mu.Unlock()
	for p := range live {
		_ = pl.d.free(p)
	}
}
