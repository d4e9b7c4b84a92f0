package tokenizer

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// charsMap is sentencepiece's precompiled normalization map: a darts-clone
// double-array trie over the source strings whose values index a blob of
// NUL-terminated replacement strings. Layout: uint32 LE trie size in bytes,
// the trie units (uint32 LE each), then the replacement blob.
type charsMap struct {
	units      []uint32
	normalized string
}

func newCharsMap(blob []byte) (*charsMap, error) {
	if len(blob) <= 4 {
		return nil, errors.New("precompiled charsmap is broken (too short)")
	}
	size := uint32(blob[0]) | uint32(blob[1])<<8 | uint32(blob[2])<<16 | uint32(blob[3])<<24
	if uint64(size) >= uint64(len(blob)) || size > uint32(len(blob)-4) || size%4 != 0 {
		return nil, fmt.Errorf("precompiled charsmap trie size %d does not fit its %d bytes", size, len(blob))
	}
	units := make([]uint32, size/4)
	for i := range units {
		b := blob[4+4*i:]
		units[i] = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	}
	return &charsMap{units: units, normalized: string(blob[4+size:])}, nil
}

func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
func dartsLabel(u uint32) uint32  { return u & ((1 << 31) | 0xFF) }
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) uint32  { return u & ((1 << 31) - 1) }

// prefixes calls f(value, length) for each key that is a prefix of s, in
// increasing length (darts-clone's commonPrefixSearch).
func (c *charsMap) prefixes(s string, f func(value uint32, n int)) {
	if len(c.units) == 0 {
		return
	}
	pos := dartsOffset(c.units[0])
	for i := 0; i < len(s); i++ {
		pos ^= uint32(s[i])
		if int(pos) >= len(c.units) {
			return
		}
		u := c.units[pos]
		if dartsLabel(u) != uint32(s[i]) {
			return
		}
		pos ^= dartsOffset(u)
		if int(pos) >= len(c.units) {
			return
		}
		if dartsHasLeaf(u) {
			f(dartsValue(c.units[pos]), i+1)
		}
	}
}

// replacement returns the NUL-terminated string at offset v of the blob.
func (c *charsMap) replacement(v uint32) (string, bool) {
	if int(v) > len(c.normalized) {
		return "", false
	}
	s := c.normalized[v:]
	if k := strings.IndexByte(s, 0); k >= 0 {
		s = s[:k]
	}
	return s, true
}

// longest returns the replacement of the longest rule matching a prefix of
// s and its length (0 if none), as sentencepiece's NormalizePrefix does.
func (c *charsMap) longest(s string) (string, int) {
	bestN := 0
	var bestV uint32
	c.prefixes(s, func(v uint32, n int) {
		if n > bestN {
			bestN, bestV = n, v
		}
	})
	if bestN == 0 {
		return "", 0
	}
	r, ok := c.replacement(bestV)
	if !ok {
		return "", 0
	}
	return r, bestN
}

// first returns the replacement of the first (shortest) rule matching a
// prefix of s, as the spm_precompiled crate behind tokenizer.json's
// Precompiled normalizer does.
func (c *charsMap) first(s string) (string, bool) {
	found := false
	var val uint32
	c.prefixes(s, func(v uint32, n int) {
		if !found {
			found, val = true, v
		}
	})
	if !found {
		return "", false
	}
	return c.replacement(val)
}

// precompiledNorm is tokenizer.json's Precompiled normalizer: each grapheme
// (if shorter than 6 bytes) is replaced whole when a rule matches it,
// otherwise each of its runes is. Grapheme clusters are approximated: a
// rune plus following marks, ZWJ-joined runes and variation selectors, CR
// LF, and regional-indicator pairs.
type precompiledNorm struct{ cm *charsMap }

func newPrecompiledNorm(b64 string) (normalizer, error) {
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("precompiled charsmap is not base64: %w", err)
	}
	cm, err := newCharsMap(blob)
	if err != nil {
		return nil, fmt.Errorf("precompiled charsmap: %w", err)
	}
	return precompiledNorm{cm}, nil
}

func graphemeEnd(s string, i int) int {
	r, n := utf8.DecodeRuneInString(s[i:])
	j := i + n
	if r == '\r' && j < len(s) && s[j] == '\n' {
		return j + 1
	}
	if r >= 0x1F1E6 && r <= 0x1F1FF && j < len(s) {
		if r2, n2 := utf8.DecodeRuneInString(s[j:]); r2 >= 0x1F1E6 && r2 <= 0x1F1FF {
			j += n2
		}
	}
	for j < len(s) {
		r2, n2 := utf8.DecodeRuneInString(s[j:])
		switch {
		case unicode.In(r2, unicode.Mn, unicode.Me, unicode.Mc), r2 == 0xFE0F, r2 == 0xFE0E,
			r2 >= 0x1F3FB && r2 <= 0x1F3FF:
			j += n2
		case r2 == 0x200D:
			j += n2
			if j < len(s) {
				_, n3 := utf8.DecodeRuneInString(s[j:])
				j += n3
			}
		default:
			return j
		}
	}
	return j
}

func (p precompiledNorm) normalize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		end := graphemeEnd(s, i)
		g := s[i:end]
		i = end
		if len(g) < 6 {
			if r, ok := p.cm.first(g); ok {
				b.WriteString(r)
				continue
			}
		}
		for k := 0; k < len(g); {
			_, n := utf8.DecodeRuneInString(g[k:])
			if r, ok := p.cm.first(g[k : k+n]); ok {
				b.WriteString(r)
			} else {
				b.WriteString(g[k : k+n])
			}
			k += n
		}
	}
	return b.String()
}
