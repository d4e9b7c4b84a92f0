package testfs

import (
	"errors"
	"runtime"
	"testing"
)

// recordTB counts the failures a helper reports; Fatalf ends the goroutine
// as testing.T's does.
type recordTB struct {
	testing.TB
	errors, fatals int
}

func (r *recordTB) Helper()               {}
func (r *recordTB) Errorf(string, ...any) { r.errors++ }
func (r *recordTB) Fatalf(string, ...any) { r.fatals++; runtime.Goexit() }
func (r *recordTB) run(f func(t testing.TB)) {
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
}

func TestOneLineError(t *testing.T) {
	for _, tc := range []struct {
		name           string
		err            error
		want           []string
		errors, fatals int
	}{
		{"holds all", errors.New("config.json: hidden_size 0"), []string{"config.json", "hidden_size"}, 0, 0},
		{"lacks one", errors.New("config.json: bad"), []string{"config.json", "hidden_size"}, 1, 0},
		{"two lines", errors.New("a\nb"), []string{"a"}, 1, 0},
		{"no error", nil, []string{"a"}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recordTB{TB: t}
			r.run(func(tb testing.TB) { OneLineError(tb, tc.err, tc.want...) })
			if r.errors != tc.errors || r.fatals != tc.fatals {
				t.Errorf("%d errors, %d fatals; want %d, %d", r.errors, r.fatals, tc.errors, tc.fatals)
			}
		})
	}
}
