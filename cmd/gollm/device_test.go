package main

import (
	"errors"
	"runtime"
	"testing"
)

func TestCheckThreads(t *testing.T) {
	lim := 4 * runtime.NumCPU()
	for _, c := range []struct {
		n  int
		ok bool
	}{{0, true}, {1, true}, {lim, true}, {lim + 1, false}, {1 << 30, false}, {-1, false}} {
		err := checkThreads(c.n)
		if (err == nil) != c.ok {
			t.Errorf("--threads %d: err = %v, want ok=%v", c.n, err, c.ok)
		}
		var ue *usageError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("--threads %d: %v is not a usage error (exit 2)", c.n, err)
		}
	}
}
