package compress

import "testing"

// The expected values come from CPython 3 (random.seed(n); random.randint).
func TestPyRandomMatchesCPython(t *testing.T) {
	tests := []struct {
		name string
		seed uint64
		a, b int
		want []int
	}{
		{"seed0", 0, 0, 10, []int{6, 6, 0, 4, 8}},
		{"seed42-c4", 42, 0, 356316, []int{335243, 58369, 13112}},
		{"seed-two-words", 1<<40 + 7, 0, 1000, []int{628, 765, 834}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPyRandom(tc.seed)
			for i, w := range tc.want {
				if got := r.randint(tc.a, tc.b); got != w {
					t.Fatalf("draw %d: randint(%d, %d) = %d, want %d", i, tc.a, tc.b, got, w)
				}
			}
		})
	}
	r := newPyRandom(0)
	if got := r.random(); got != 0.8444218515250481 {
		t.Errorf("seed 0: random() = %v, want 0.8444218515250481", got)
	}
	r = newPyRandom(1<<40 + 7)
	for range 3 {
		r.randint(0, 1000)
	}
	if got := r.random(); got != 0.937932416386988 {
		t.Errorf("random() after three draws = %v, want 0.937932416386988", got)
	}
	// randint(0, 0) consumes a word, and ranges above 2³² take two.
	r = newPyRandom(0)
	r.randint(0, 0)
	r.randint(0, 0)
	if got := r.randint(0, 1<<33); got != 4468846388 {
		t.Errorf("randint(0, 2**33) = %d, want 4468846388", got)
	}
}
