package tokenizer

import (
	"unicode/utf8"
)

// GPT-2's byte-level alphabet: every byte maps to one printable rune, the
// printable Latin-1 bytes to themselves and the others to U+0100 upwards.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
	// byteToStr holds the UTF-8 encoding of byteToRune[b].
	byteToStr [256]string
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
	}
	for b := 0; b < 256; b++ {
		runeToByte[byteToRune[b]] = byte(b)
		byteToStr[b] = string(byteToRune[b])
	}
}

// byteLevelEncode maps every byte of s to its byte-level rune.
func byteLevelEncode(s string) string {
	buf := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		buf = utf8.AppendRune(buf, byteToRune[s[i]])
	}
	return string(buf)
}

// byteLevelDecodeToken appends the bytes a byte-level token stands for. A
// token holding a rune outside the alphabet (an added token such as
// "hello world") contributes its own UTF-8 bytes, as the reference does.
func byteLevelDecodeToken(dst []byte, tok string) []byte {
	start := len(dst)
	for _, r := range tok {
		b, ok := runeToByte[r]
		if !ok {
			return append(dst[:start], tok...)
		}
		dst = append(dst, b)
	}
	return dst
}

// lossyUTF8 converts b to a string, replacing each maximal ill-formed
// subsequence with U+FFFD, as Rust's String::from_utf8_lossy does (the
// "substitution of maximal subparts" practice of the Unicode standard).
// Go's strings.ToValidUTF8 differs: it folds whole runs into one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			out = append(out, b[i:i+size]...)
			i += size
			continue
		}
		// Invalid: find the length of the maximal prefix of a valid sequence.
		n := maximalSubpart(b[i:])
		out = append(out, "\uFFFD"...)
		i += n
	}
	return string(out)
}

// maximalSubpart returns how many bytes of the ill-formed sequence at the
// start of b form the maximal subpart (at least 1).
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 {
			if x < lo || x > hi {
				return n
			}
		} else if x < 0x80 || x > 0xBF {
			return n
		}
		n++
	}
	return n
}

// ByteLevelRune returns the rune of GPT-2's byte-level alphabet that stands
// for byte b: the printable Latin-1 bytes stand for themselves, the others
// for U+0100 upwards (the ByteLevel pre-tokenizer and decoder's mapping).
func ByteLevelRune(b byte) rune { return byteToRune[b] }
