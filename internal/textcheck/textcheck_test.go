package textcheck

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		in   string
		off  int64 // -1: text
		nul  bool
	}{
		{"empty", "", -1, false},
		{"ascii", "hello world\n", -1, false},
		{"multibyte", "héllo — 世界 🙂", -1, false},
		{"bom", "\uFEFFtext", -1, false},
		{"nul", "abc\x00def", 3, true},
		{"lone continuation", "ab\x80c", 2, false},
		{"truncated rune at end", "ab\xe4\xb8", 2, false},
		{"overlong", "x\xc0\xafy", 1, false},
		{"surrogate", "xy\xed\xa0\x80", 2, false},
		{"bad after multibyte", "世\xff", 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if tc.off < 0 {
					if err != nil {
						t.Fatalf("%s: %v, want nil", what, err)
					}
					return
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%s: %v, want an *Error", what, err)
				}
				if e.Offset != tc.off || e.NUL != tc.nul {
					t.Fatalf("%s: offset %d nul %v, want %d %v", what, e.Offset, e.NUL, tc.off, tc.nul)
				}
			}
			check("Check", Check([]byte(tc.in)))
			// The reader must find the same byte however the reads cut
			// the stream (one byte at a time splits every rune).
			for _, r := range []io.Reader{bytes.NewReader([]byte(tc.in)), iotest.OneByteReader(bytes.NewReader([]byte(tc.in))), iotest.DataErrReader(bytes.NewReader([]byte(tc.in)))} {
				got, err := io.ReadAll(NewReader(r))
				check("Reader", err)
				if err == nil && string(got) != tc.in {
					t.Fatalf("Reader passed %q, want %q", got, tc.in)
				}
			}
		})
	}
}
