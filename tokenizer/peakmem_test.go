package tokenizer

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// peakHeap runs f and returns the largest live heap (runtime HeapAlloc,
// sampled every millisecond with a forced collection before) above the
// heap before f.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	f()
	close(done)
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > peak.Load() {
		peak.Store(ms.HeapAlloc)
	}
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// TestPeakHeapPerByte measures the peak heap of encoding one long line per
// fixture tokenizer (GOLLM_TOKMEM=MB enables it; docs/TOKENIZERS.md has the
// numbers). It reports, and asserts nothing about machine-dependent sizes.
func TestPeakHeapPerByte(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("GOLLM_TOKMEM"))
	if mb <= 0 {
		t.Skip("set GOLLM_TOKMEM=40 to measure a 40 MB line")
	}
	text := benchTexts(mb<<20, 1)[0]
	for _, bt := range benchTokenizers {
		tok, err := bt.load()
		if err != nil {
			t.Fatal(err)
		}
		debug.SetGCPercent(20)
		var ids []int
		p := peakHeap(func() { ids = tok.Encode(text, false) })
		debug.SetGCPercent(100)
		t.Logf("%-18s %d MB line: peak heap %6.1f bytes per input byte (ids alone %4.1f)", bt.name, mb, float64(p)/float64(len(text)), float64(8*cap(ids))/float64(len(text)))
		ids = nil
	}
}
