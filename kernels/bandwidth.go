package kernels

import (
	"runtime"
	"time"
)

// MeasureCopyBandwidth returns the memory bandwidth of a plain copy in GB/s
// (10⁹ bytes/s), counting bytes read plus bytes written (2·size per copy):
// the ceiling to compare a bandwidth-bound kernel with (the batch-1 GEMV
// streams weights at 0.5 FLOP/byte). It allocates two size-byte buffers,
// touches them once, then times rounds copies split over threads goroutines
// (threads < 1 means MaxThreads()) and returns the best round. size should be
// well above the last-level cache (e.g. 256 MiB) to measure DRAM rather than
// cache; it costs about 2·rounds·size bytes of traffic.
func MeasureCopyBandwidth(size, rounds, threads int) float64 {
	if size <= 0 || rounds <= 0 {
		return 0
	}
	if threads < 1 {
		threads = MaxThreads()
	}
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	best := time.Duration(1<<63 - 1)
	for r := 0; r <= rounds; r++ { // round 0 warms up (page faults in dst)
		t0 := time.Now()
		bandwidthCopy(dst, src, threads)
		if d := time.Since(t0); r > 0 && d < best {
			best = d
		}
	}
	return 2 * float64(size) / best.Seconds() / 1e9
}

// bandwidthCopy copies src into dst in threads contiguous chunks.
func bandwidthCopy(dst, src []byte, threads int) {
	n := len(src)
	chunk := (n + threads - 1) / threads
	if threads == 1 {
		copy(dst, src)
		return
	}
	ParallelFor(threads, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			a, e := min(t*chunk, n), min((t+1)*chunk, n)
			copy(dst[a:e], src[a:e])
		}
	})
}

// MeasureReadBandwidth returns the memory read bandwidth in GB/s (10⁹
// bytes/s, bytes read only): the ceiling of a kernel that streams its
// weights and writes little, as the batch-1 GEMV does (read-only traffic
// runs faster than a copy's read + write on most machines, so it is the
// fairer bound for decode). It allocates one size-byte buffer, touches it,
// then times rounds passes that read every byte (an XOR reduction over
// 8-byte words, unrolled four times so the loads, not the arithmetic,
// bound it), split over threads goroutines (threads < 1 means
// MaxThreads()), and returns the best round. size should be well above the
// last-level cache; it costs about rounds·size bytes of traffic.
func MeasureReadBandwidth(size, rounds, threads int) float64 {
	if size <= 0 || rounds <= 0 {
		return 0
	}
	if threads < 1 {
		threads = MaxThreads()
	}
	buf := make([]uint64, (size+7)/8)
	for i := range buf {
		buf[i] = uint64(i)
	}
	best := time.Duration(1<<63 - 1)
	for r := 0; r <= rounds; r++ { // round 0 warms up
		t0 := time.Now()
		runtime.KeepAlive(bandwidthRead(buf, threads))
		if d := time.Since(t0); r > 0 && d < best {
			best = d
		}
	}
	return float64(8*len(buf)) / best.Seconds() / 1e9
}

// bandwidthRead XORs every word of buf, in threads contiguous chunks, and
// returns the result.
func bandwidthRead(buf []uint64, threads int) uint64 {
	if threads == 1 {
		return xorWords(buf)
	}
	n := len(buf)
	chunk := (n + threads - 1) / threads
	parts := make([]uint64, threads)
	ParallelFor(threads, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			parts[t] = xorWords(buf[min(t*chunk, n):min((t+1)*chunk, n)])
		}
	})
	var x uint64
	for _, p := range parts {
		x ^= p
	}
	return x
}

// xorWords returns the XOR of the words of w with four independent
// accumulators.
func xorWords(w []uint64) uint64 {
	var a, b, c, d uint64
	i := 0
	for ; i+4 <= len(w); i += 4 {
		v := (*[4]uint64)(w[i : i+4])
		a ^= v[0]
		b ^= v[1]
		c ^= v[2]
		d ^= v[3]
	}
	for ; i < len(w); i++ {
		a ^= w[i]
	}
	return a ^ b ^ c ^ d
}
