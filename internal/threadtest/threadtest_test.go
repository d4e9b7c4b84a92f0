package threadtest

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/kernels"
)

func TestOneAndTwo(t *testing.T) {
	var got []int
	var during []int
	OneAndTwo(t, func(i, th int) error {
		got = append(got, i, th)
		during = append(during, kernels.MaxThreads())
		return nil
	})
	if want := []int{0, 1, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("calls (i, threads) = %v, want %v", got, want)
	}
	if want := []int{1, 2}; !slices.Equal(during, want) {
		t.Errorf("MaxThreads during the calls = %v, want %v", during, want)
	}
}

func TestOneAndTwoError(t *testing.T) {
	if ok, why := kernels.ThreadsReproducible(); !ok {
		t.Skip(why)
	}
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		OneAndTwo(ft, func(i, th int) error {
			if th == 2 {
				return errors.New("boom")
			}
			return nil
		})
	}()
	<-done
	if ft.msg != "2 thread(s): boom" {
		t.Errorf("failure message %q, want %q", ft.msg, "2 thread(s): boom")
	}
}

// fakeT records a Fatalf and ends the goroutine as testing.T does.
type fakeT struct {
	testing.TB
	msg string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
