package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites text before pre-tokenization. Offsets are not tracked:
// gollm only needs ids.
type normalizer interface {
	normalize(s string) string
}

type unicodeNorm struct{ form norm.Form }

func (n unicodeNorm) normalize(s string) string { return n.form.String(s) }

type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s string) string { return rustLower(s) }

// rustLower lowercases rune by rune like Rust's char::to_lowercase (no
// final-sigma context; U+0130 becomes "i̇").
func rustLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 0x130 {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

type stripNorm struct{ left, right bool }

func (n stripNorm) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, isSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, isSpace)
	}
	return s
}

// stripAccentsNorm removes combining marks (Mn, Mc, Me). Like the
// reference's StripAccents it does not decompose first.
type stripAccentsNorm struct{}

func (stripAccentsNorm) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsMark(r) {
			return -1
		}
		return r
	}, s)
}

// dropNonspacing removes non-spacing marks (Mn), BertNormalizer's accent
// stripping after NFD.
func dropNonspacing(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}

type replaceNorm struct {
	m       matcher
	content string
}

func (n replaceNorm) normalize(s string) string { return replaceAll(n.m, s, n.content) }

func replaceAll(m matcher, s, content string) string {
	spans := m.findAll(s, nil)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	prev := 0
	for _, sp := range spans {
		b.WriteString(s[prev:sp[0]])
		b.WriteString(content)
		prev = sp[1]
	}
	b.WriteString(s[prev:])
	return b.String()
}

type prependNorm struct{ prefix string }

func (n prependNorm) normalize(s string) string {
	if s == "" {
		return s
	}
	return n.prefix + s
}

type seqNorm []normalizer

func (q seqNorm) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// bertNorm is BertNormalizer: clean text, pad CJK ideographs with spaces,
// strip accents (NFD then drop Mn), lowercase.
type bertNorm struct {
	cleanText, chineseChars, stripAccents, lowercase bool
}

func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) || !isAssigned(r)
}

// isAssigned reports whether r has a general category (approximating Cn).
func isAssigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}

func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

func (n bertNorm) normalize(s string) string {
	if n.cleanText {
		s = strings.Map(func(r rune) rune {
			if r == 0 || r == 0xFFFD || isBertControl(r) {
				return -1
			}
			if r == '\t' || r == '\n' || r == '\r' || isSpace(r) {
				return ' '
			}
			return r
		}, s)
	}
	if n.chineseChars {
		var b strings.Builder
		for _, r := range s {
			if isChineseChar(r) {
				b.WriteByte(' ')
				b.WriteRune(r)
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	if n.stripAccents {
		s = dropNonspacing(norm.NFD.String(s))
	}
	if n.lowercase {
		s = rustLower(s)
	}
	return s
}

// nmtNorm is the NMT normalizer: drop some control characters, map other
// separators to a space.
type nmtNorm struct{}

func (nmtNorm) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0x1 && r <= 0x8, r == 0xB, r >= 0xE && r <= 0x1F, r == 0x7F, r == 0x8F, r == 0x9F:
			return -1
		case r == 0x9, r == 0xA, r == 0xC, r == 0xD, r == 0x1680, r >= 0x200B && r <= 0x200F,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			return ' '
		}
		return r
	}, s)
}

// byteLevelNorm maps every byte to the byte-level alphabet.
type byteLevelNorm struct{}

func (byteLevelNorm) normalize(s string) string { return byteLevelEncode(s) }
