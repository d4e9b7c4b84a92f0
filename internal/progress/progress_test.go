package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestModes(t *testing.T) {
	cases := []struct {
		name    string
		tty     bool
		wantCR  bool
		minLine int
	}{
		{"terminal", true, true, 1},
		{"plain", false, false, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			b := NewMode(&buf, "task", 10, tc.tty)
			for i := 0; i < 10; i++ {
				b.Add(1)
			}
			b.Finish()
			out := buf.String()
			if got := strings.Contains(out, "\r"); got != tc.wantCR {
				t.Errorf("carriage return present = %v, want %v: %q", got, tc.wantCR, out)
			}
			if !strings.Contains(out, "10/10") {
				t.Errorf("final count missing: %q", out)
			}
			if n := strings.Count(out, "\n"); n < tc.minLine {
				t.Errorf("%d lines, want ≥ %d: %q", n, tc.minLine, out)
			}
		})
	}
}

func TestPlainIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	b := NewMode(&buf, "x", 1000, false)
	for i := 0; i < 1000; i++ {
		b.Set(i, "loss 1.0")
	}
	// One line at the start; the loop runs far faster than PlainEvery.
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Errorf("%d lines written in a fast loop, want 1: %q", n, buf.String())
	}
}

func TestIsTerminal(t *testing.T) {
	var buf bytes.Buffer
	if IsTerminal(&buf) || IsTerminal(nil) {
		t.Error("a buffer or nil is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}

func TestNilWriter(t *testing.T) {
	b := New(nil, "x", 3)
	b.Add(3)
	b.Finish()
	b.Abort()
}
