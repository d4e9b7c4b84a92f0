package kernels

import "time"

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
