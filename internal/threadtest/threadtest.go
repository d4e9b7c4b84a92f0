// Package threadtest holds the one helper the thread-reproducibility tests
// of several packages share: run the same work with 1 and with 2 threads.
// Only tests import it.
package threadtest

import (
	"testing"

	"github.com/llmcbench/gollm/kernels"
)

// OneAndTwo calls f(0, 1) with 1 thread and f(1, 2) with 2 threads
// (kernels.SetMaxThreads and SetThreads, as --threads sets them), restoring
// the defaults after each call, and fails t on an error from f. It skips t
// where the GEMM backend is not reproducible across thread counts
// (kernels.ThreadsReproducible; docs/METHODS.md, "Determinism").
func OneAndTwo(t testing.TB, f func(i, threads int) error) {
	t.Helper()
	if ok, why := kernels.ThreadsReproducible(); !ok {
		t.Skip(why)
	}
	for i, th := range []int{1, 2} {
		kernels.SetMaxThreads(th)
		kernels.SetThreads(th)
		err := f(i, th)
		kernels.SetMaxThreads(0)
		kernels.SetThreads(0)
		if err != nil {
			t.Fatalf("%d thread(s): %v", th, err)
		}
	}
}
