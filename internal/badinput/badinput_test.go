package badinput

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestMatching(t *testing.T) {
	badModel := New("bad model")
	tests := []struct {
		name    string
		err     error
		bad     bool
		message string
	}{
		{"Errorf", Errorf("--bits %d: want 2-8", 9), true, "bad input: --bits 9: want 2-8"},
		{"kind", badModel, true, "bad model"},
		{"kind wrapped", fmt.Errorf("--model m: %w: no config.json", badModel), true, "--model m: bad model: no config.json"},
		{"Errorf wrapped twice", fmt.Errorf("--calib f: %w", Errorf("empty")), true, "--calib f: bad input: empty"},
		{"runtime failure", errors.New("disk full"), false, "disk full"},
		{"not exist is not bad input by itself", fs.ErrNotExist, false, "file does not exist"},
		{"nil", nil, false, ""},
		{"Missing: no such file", Missing(fmt.Errorf("config c.json: %w", fs.ErrNotExist)), true, "config c.json: file does not exist"},
		{"Missing: other failure", Missing(errors.New("disk full")), false, "disk full"},
		{"Missing: already bad input", Missing(fmt.Errorf("%w: %w", badModel, fs.ErrNotExist)), true, "bad model: file does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Is(tc.err); got != tc.bad {
				t.Errorf("Is(%v) = %v, want %v", tc.err, got, tc.bad)
			}
			if tc.err != nil && tc.err.Error() != tc.message {
				t.Errorf("message %q, want %q", tc.err.Error(), tc.message)
			}
		})
	}
	if Missing(nil) != nil {
		t.Error("Missing(nil) != nil")
	}
	if err := fmt.Errorf("x: %w", fs.ErrNotExist); !errors.Is(Missing(err), fs.ErrNotExist) {
		t.Error("Missing hides fs.ErrNotExist")
	}
	// Two kinds are distinct sentinels: each matches itself, not the other.
	other := New("bad model")
	if errors.Is(badModel, other) || !errors.Is(fmt.Errorf("x: %w", other), other) {
		t.Error("kinds with the same text must stay distinct sentinels")
	}
}
