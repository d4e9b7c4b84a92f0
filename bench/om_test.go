package bench

import (
	"math"
	"testing"
)

func TestRatio(t *testing.T) {
	cases := []struct {
		orig, comp float64
		lower      bool
		want       float64
	}{
		{5.47, 6.42, true, 5.47 / 6.42}, // perplexity rises: ratio < 1
		{0.70, 0.63, false, 0.9},        // accuracy falls
		{13.5, 3.9, true, 13.5 / 3.9},   // size shrinks: ratio > 1
	}
	for _, c := range cases {
		got, err := Ratio(c.orig, c.comp, c.lower)
		if err != nil || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Ratio(%v, %v, %v) = %v, %v; want %v", c.orig, c.comp, c.lower, got, err, c.want)
		}
	}
	for _, bad := range [][2]float64{{0, 1}, {1, -1}, {math.NaN(), 1}, {1, math.Inf(1)}} {
		if _, err := Ratio(bad[0], bad[1], true); err == nil {
			t.Errorf("Ratio(%v) accepted", bad)
		}
	}
}

func TestOM(t *testing.T) {
	// Two groups: mean r² of {0.9, 0.8} is 0.725, of {1} is 1; quadratic
	// mean sqrt((0.725+1)/2) = 0.92870878…
	got, err := OM([]float64{0.9, 0.8}, []float64{1})
	if err != nil || math.Abs(got-92.870878) > 1e-5 {
		t.Errorf("OM = %v, %v", got, err)
	}
	// A perfect compression scores 100 whatever the grouping.
	if got, _ := OM([]float64{1, 1, 1}, []float64{1}); got != 100 {
		t.Errorf("OM of ones = %v", got)
	}
	// Combine(OM_a, OM_b) is their quadratic mean.
	if got, _ := Combine(80, 60); math.Abs(got-math.Sqrt((6400+3600)/2.0)) > 1e-9 {
		t.Errorf("Combine = %v", got)
	}
	for _, bad := range [][][]float64{nil, {{}}, {{1, math.NaN()}}, {{-1}}} {
		if _, err := OM(bad...); err == nil {
			t.Errorf("OM(%v) accepted", bad)
		}
	}
}
