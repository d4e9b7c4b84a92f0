package kernels

import (
	"slices"
	"testing"
)

func TestDenseWeights(t *testing.T) {
	tests := []struct {
		name    string
		out, in int
	}{
		{"square", 3, 3},
		{"wide", 2, 5},
		{"tall", 4, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := make([]float32, tc.out*tc.in)
			for i := range w {
				w[i] = float32(i) - 1.5
			}
			d, err := NewDense(tc.out, tc.in, w)
			if err != nil {
				t.Fatal(err)
			}
			if got := DenseWeights(d); !slices.Equal(got, w) {
				t.Fatalf("DenseWeights = %v, want %v", got, w)
			}
		})
	}
}
