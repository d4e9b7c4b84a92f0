package kernels

import (
	"fmt"
	"runtime"
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
	for _, tt := range tests {
		got := MeasureReadBandwidth(tt.size, tt.rounds, tt.threads)
		if (got > 0) != tt.wantPositive {
			t.Errorf("MeasureReadBandwidth(%d, %d, %d) = %g, want positive: %v", tt.size, tt.rounds, tt.threads, got, tt.wantPositive)
		}
	}
	// The chunked read must visit every word once, for any thread count.
	for _, n := range []int{0, 1, 5, 1001} {
		buf := make([]uint64, n)
		var want uint64
		for i := range buf {
			buf[i] = uint64(i)*0x9E3779B97F4A7C15 + 1
			want ^= buf[i]
		}
		for _, threads := range []int{1, 2, 3, 7} {
			if got := bandwidthRead(buf, threads); got != want {
				t.Fatalf("bandwidthRead(%d words, %d threads) = %#x, want %#x", n, threads, got, want)
			}
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

// BenchmarkReadBandwidth is the read-only ceiling beside BenchmarkCopyBandwidth:
// every word of a 256 MiB buffer XOR-reduced, on one goroutine and on
// MaxThreads goroutines. SetBytes counts the bytes read, so the MB/s column
// (and GB/s) is the read bandwidth the GEMV benchmarks report a percentage of.
func BenchmarkReadBandwidth(b *testing.B) {
	const size = 256 << 20
	buf := make([]uint64, size/8)
	for i := range buf {
		buf[i] = uint64(i)
	}
	for _, threads := range []int{1, MaxThreads()} {
		b.Run(fmt.Sprintf("256MiB/threads=%d", threads), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				runtime.KeepAlive(bandwidthRead(buf, threads))
			}
			b.ReportMetric(size*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
