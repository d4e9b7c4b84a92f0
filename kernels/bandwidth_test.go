package kernels

import (
	"fmt"
	"testing"
)

func TestMeasureCopyBandwidth(t *testing.T) {
	tests := []struct {
		size, rounds, threads int
		wantPositive          bool
	}{
		{1 << 20, 2, 1, true},
		{1<<20 + 3, 2, 3, true},
		{0, 2, 1, false},
		{1 << 10, 0, 1, false},
	}
	for _, tt := range tests {
		got := MeasureCopyBandwidth(tt.size, tt.rounds, tt.threads)
		if (got > 0) != tt.wantPositive {
			t.Errorf("MeasureCopyBandwidth(%d, %d, %d) = %g, want positive: %v", tt.size, tt.rounds, tt.threads, got, tt.wantPositive)
		}
	}
	// The chunked copy must copy every byte, for any thread count.
	for _, threads := range []int{1, 2, 3, 7} {
		src, dst := make([]byte, 1001), make([]byte, 1001)
		for i := range src {
			src[i] = byte(i*7 + 1)
		}
		bandwidthCopy(dst, src, threads)
		for i := range src {
			if dst[i] != src[i] {
				t.Fatalf("threads %d: dst[%d] = %d, want %d", threads, i, dst[i], src[i])
			}
		}
	}
}

// BenchmarkCopyBandwidth is the memory-bandwidth ceiling the GEMV benchmarks
// are read against: a 256 MiB copy (far above the caches of the reference
// machine except its 260 MiB shared L3, so 2 × 256 MiB buffers spill it), on
// one goroutine (a memmove) and on MaxThreads goroutines. SetBytes counts
// read + write, so the MB/s column is the read+write bandwidth.
func BenchmarkCopyBandwidth(b *testing.B) {
	const size = 256 << 20
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src)
	for _, threads := range []int{1, MaxThreads()} {
		b.Run(fmt.Sprintf("256MiB/threads=%d", threads), func(b *testing.B) {
			b.SetBytes(2 * size)
			for b.Loop() {
				bandwidthCopy(dst, src, threads)
			}
			b.ReportMetric(2*size*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
