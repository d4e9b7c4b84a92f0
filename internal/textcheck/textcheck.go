// Package textcheck refuses binary data where gollm reads text: calibration
// files, training data and raw evaluation text must be UTF-8 without NUL
// bytes. A file that is not (a model checkpoint, an archive, random bytes
// given by mistake) would otherwise be tokenized into byte-fallback tokens
// and give a result with no meaning.
package textcheck

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// Error reports the first byte that is not text.
type Error struct {
	// Offset is the byte offset of the bad byte (for an invalid sequence,
	// of its first byte) from the start of the stream.
	Offset int64
	// NUL is true for a NUL byte, false for invalid UTF-8.
	NUL bool
}

func (e *Error) Error() string {
	if e.NUL {
		return fmt.Sprintf("NUL byte at byte offset %d (binary data, not text)", e.Offset)
	}
	return fmt.Sprintf("invalid UTF-8 at byte offset %d (binary data, not text)", e.Offset)
}

// Check returns an *Error for the first NUL byte or invalid UTF-8 sequence
// in b, or nil when b is text. It costs one pass over b.
func Check(b []byte) error {
	_, err := scan(b, true)
	return err
}

// scan checks b up to a rune cut off at its end (allowed unless final) and
// returns how many bytes it consumed.
func scan(b []byte, final bool) (int, error) {
	i := 0
	for i < len(b) {
		c := b[i]
		if c == 0 {
			return i, &Error{Offset: int64(i), NUL: true}
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			if !final && !utf8.FullRune(b[i:]) {
				return i, nil // the rest arrives with the next read
			}
			return i, &Error{Offset: int64(i)}
		}
		i += size
	}
	return i, nil
}

// Reader passes r's bytes through and fails, with an *Error giving the
// offset in the stream, at the first byte that is not text.
type Reader struct {
	r    io.Reader
	off  int64  // offset of pend[0] in the stream
	pend []byte // the start of a rune cut by the last read
	buf  []byte
	err  error
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Read reads from the underlying reader and checks what it returns.
func (t *Reader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.r.Read(p)
	t.buf = append(append(t.buf[:0], t.pend...), p[:n]...)
	used, cerr := scan(t.buf, err == io.EOF)
	if cerr != nil {
		e := cerr.(*Error)
		e.Offset = t.off + int64(used)
		t.err = e
		return 0, e
	}
	t.off += int64(used)
	t.pend = append(t.pend[:0], t.buf[used:]...)
	return n, err
}
