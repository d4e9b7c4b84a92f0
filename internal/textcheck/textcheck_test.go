package textcheck

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf8"
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

// FuzzCheck holds Check to utf8.Valid plus the NUL rule, and the Reader to
// Check however the reads cut the stream.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("plain text"))
	f.Add([]byte("世界\x00"))
	f.Add([]byte("ab\xe4\xb8"))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b)
		if want := utf8.Valid(b) && bytes.IndexByte(b, 0) < 0; (err == nil) != want {
			t.Fatalf("Check(%q) = %v, want text=%v", b, err, want)
		}
		_, rerr := io.ReadAll(NewReader(iotest.HalfReader(bytes.NewReader(b))))
		var e1, e2 *Error
		if (err == nil) != (rerr == nil) || (err != nil && (!errors.As(err, &e1) || !errors.As(rerr, &e2) || *e1 != *e2)) {
			t.Fatalf("%q: Check %v, Reader %v", b, err, rerr)
		}
	})
}
