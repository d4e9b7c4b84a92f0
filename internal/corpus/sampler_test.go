package corpus

import (
	"slices"
	"testing"
)

func TestSamplerWindows(t *testing.T) {
	tokens := make([]int, 50)
	for i := range tokens {
		tokens[i] = 100 + i
	}
	s, err := NewSampler(tokens, 8, 7)
	if err != nil {
		t.Fatal(err)
	}
	ids, targets := s.Batch(4)
	if len(ids) != 32 || len(targets) != 32 {
		t.Fatalf("batch of 4×8: %d ids, %d targets", len(ids), len(targets))
	}
	for i := range ids {
		if targets[i] != ids[i]+1 { // the next token of the stream
			t.Fatalf("target %d is %d after id %d", i, targets[i], ids[i])
		}
		if i%8 != 0 && ids[i] != ids[i-1]+1 {
			t.Fatalf("window %d is not contiguous: %v", i/8, ids[i/8*8:i/8*8+8])
		}
	}
	// A restored generator state draws the same windows again.
	st, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.Batch(3)
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Batch(3); !slices.Equal(got, want) {
		t.Errorf("after SetState: %v, want %v", got, want)
	}
}

func TestSamplerRefusesShortStreams(t *testing.T) {
	for _, tc := range []struct{ tokens, seqLen int }{{8, 8}, {3, 8}, {10, 0}} {
		if _, err := NewSampler(make([]int, tc.tokens), tc.seqLen, 1); err == nil {
			t.Errorf("%d tokens, window %d: no error", tc.tokens, tc.seqLen)
		}
	}
}
