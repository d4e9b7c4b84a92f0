//go:build cudaemu

package cuda

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/kernels"
)

// Tests of the emulator and of the backend's memory handling, which the
// emulated device (with its adjustable memory size) makes reproducible.

func TestEmulatorRejectsBadLaunch(t *testing.T) {
	g := gpu(t, f32, false)
	for _, c := range []struct{ grid, block dim3 }{
		{dim3{1, 1, 1}, dim3{2048, 1, 1}},
		{dim3{1, 70000, 1}, dim3{32, 1, 1}},
		{dim3{0, 1, 1}, dim3{32, 1, 1}},
	} {
		err := g.d.launch(g.k.add, c.grid, c.block, []uint64{0, 0, 0, 0})
		if err == nil || !strings.Contains(err.Error(), "invalid launch") {
			t.Errorf("grid %v block %v: err = %v", c.grid, c.block, err)
		}
	}
}

func TestOutOfMemory(t *testing.T) {
	saved := emuMemory
	defer func() { emuMemory = saved }()
	emuMemory = 1 << 20
	g, err := New(0, Options{DType: "f16"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	w, _ := kernels.NewDense(1024, 1024, make([]float32, 1024*1024)) // 2 MiB in f16
	_, err = g.UploadMatrix(w)
	if err == nil || !strings.Contains(err.Error(), "does not fit") || !strings.Contains(err.Error(), "free of") {
		t.Errorf("oversized weight: err = %v, want a message saying the model does not fit", err)
	}
	func() {
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(fmt.Sprint(r), "out of memory") {
				t.Errorf("oversized tensor: panic %v, want out of memory", r)
			}
		}()
		g.NewTensor(1024, 1024)
	}()
}

// TestPoolReusesMemory: a tensor that becomes unreachable returns its
// memory to the cache, and the next allocation of its size takes it back.
func TestPoolReusesMemory(t *testing.T) {
	g, err := New(0, Options{DType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	p := g.NewTensor(33, 7).(*Tensor).p
	for i := 0; ; i++ {
		runtime.GC()
		if _, cached := g.pool.stats(); cached > 0 {
			break
		}
		if i == 100 {
			t.Fatal("an unreachable tensor's memory never returned to the cache")
		}
		time.Sleep(time.Millisecond)
	}
	keep := g.NewTensor(33, 7).(*Tensor)
	if keep.p != p {
		t.Errorf("same-size allocation got %#x, want the cached %#x", keep.p, p)
	}
	if inUse, cached := g.pool.stats(); inUse != roundSize(33*7*4) || cached != 0 {
		t.Errorf("pool: %d in use, %d cached", inUse, cached)
	}
	runtime.KeepAlive(keep)
}
