package tokenizer

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// matcher finds the non-overlapping, leftmost matches of a pattern. This is
// what the reference's Oniguruma regexes (and escaped literal strings) do
// inside Split pre-tokenizers and Replace normalizers/decoders.
type matcher interface {
	// findAll appends the [start, end) byte spans of all matches in s.
	findAll(s string, dst [][2]int) [][2]int
}

// The two pre-tokenization regexes almost every byte-level model uses. They
// have hand-written matchers (gpt2Matcher, cl100kMatcher) that give the same
// spans as the regex engine, many times faster; regex_test.go holds them
// against regexp2 on the fixtures and on random text.
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Qwen2 uses the cl100k pattern with single digits.
	qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// regexTimeout bounds one regexp2 match so that a pathological user pattern
// cannot hang encoding.
const regexTimeout = 2 * time.Second

// compileMatcher returns the matcher of a tokenizer.json pattern: a fast
// hand-written one for the well-known patterns, otherwise regexp2 (which,
// unlike Go's regexp, has look-ahead and the other Oniguruma constructs the
// reference patterns use).
func compileMatcher(pattern string, literal bool) (matcher, error) {
	if literal {
		return literalMatcher(pattern), nil
	}
	switch pattern {
	case gpt2Pattern:
		return gpt2Matcher{}, nil
	case cl100kPattern:
		return cl100kMatcher{maxDigits: 3}, nil
	case qwen2Pattern:
		return cl100kMatcher{maxDigits: 1}, nil
	}
	return newRegexp2Matcher(pattern)
}

// regexp2Matcher runs a pattern with github.com/dlclark/regexp2.
type regexp2Matcher struct{ re *regexp2.Regexp }

func newRegexp2Matcher(pattern string) (regexp2Matcher, error) {
	re, err := regexp2.Compile(pattern, regexp2.Unicode)
	if err != nil {
		return regexp2Matcher{}, fmt.Errorf("regex %q: %w", pattern, err)
	}
	re.MatchTimeout = regexTimeout
	return regexp2Matcher{re: re}, nil
}

func (m regexp2Matcher) findAll(s string, dst [][2]int) [][2]int {
	if s == "" {
		return dst
	}
	// Rune i of runes starts at byte offs[i] of s (an invalid byte counts as
	// one rune, U+FFFD, of one byte).
	runes := make([]rune, 0, len(s))
	offs := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		runes = append(runes, r)
		offs = append(offs, i)
		i += n
	}
	offs = append(offs, len(s))
	match, err := m.re.FindRunesMatch(runes)
	for err == nil && match != nil {
		start, end := match.Index, match.Index+match.Length
		if end > start {
			dst = append(dst, [2]int{offs[start], offs[end]})
		}
		match, err = m.re.FindNextMatch(match)
	}
	return dst
}

// literalMatcher finds a literal string.
type literalMatcher string

func (m literalMatcher) findAll(s string, dst [][2]int) [][2]int {
	lit := string(m)
	if lit == "" {
		return dst
	}
	for i := 0; i+len(lit) <= len(s); {
		k := indexFrom(s, lit, i)
		if k < 0 {
			break
		}
		dst = append(dst, [2]int{k, k + len(lit)})
		i = k + len(lit)
	}
	return dst
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// Character classes of the reference regexes (Oniguruma, Unicode mode).

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isSpace is Unicode White_Space, Oniguruma's and Rust's \s.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

func decodeAt(s string, i int) (rune, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// runWhile returns the end of the run of runes satisfying f starting at i.
func runWhile(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, n := decodeAt(s, i)
		if !f(r) {
			break
		}
		i += n
	}
	return i
}

func isOther(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// spaceRunEnd scans the whitespace run starting at i. It returns the run's
// end, the start of its last rune, and the end of its last '\r' or '\n'
// (-1 if it has none).
func spaceRunEnd(s string, i int) (end, lastStart, lastNL int) {
	lastStart, lastNL = i, -1
	for i < len(s) {
		r, n := decodeAt(s, i)
		if !isSpace(r) {
			break
		}
		lastStart = i
		if r == '\n' || r == '\r' {
			lastNL = i + n
		}
		i += n
	}
	return i, lastStart, lastNL
}

// gpt2Matcher is the GPT-2 / RoBERTa / OPT pre-tokenization regex
// (gpt2Pattern). Every rune is matched by some alternative, so the matches
// tile the input.
type gpt2Matcher struct{}

func (gpt2Matcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		end := gpt2MatchAt(s, i)
		dst = append(dst, [2]int{i, end})
		i = end
	}
	return dst
}

// SplitGPT2 splits s with the GPT-2 pre-tokenization regex (the split of
// the ByteLevel pre-tokenizer with use_regex) and calls fn with each piece,
// in order; the pieces tile s. It costs one pass over s and no allocation.
func SplitGPT2(s string, fn func(piece string)) {
	for i := 0; i < len(s); {
		end := gpt2MatchAt(s, i)
		fn(s[i:end])
		i = end
	}
}

func gpt2MatchAt(s string, i int) int {
	r, n := decodeAt(s, i)
	if r == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	if r == ' ' && i+1 < len(s) {
		r2, _ := decodeAt(s, i+1)
		switch {
		case isLetter(r2):
			return runWhile(s, i+1, isLetter)
		case isNumber(r2):
			return runWhile(s, i+1, isNumber)
		case !isSpace(r2):
			return runWhile(s, i+1, isOther)
		}
	}
	switch {
	case isLetter(r):
		return runWhile(s, i+n, isLetter)
	case isNumber(r):
		return runWhile(s, i+n, isNumber)
	case !isSpace(r):
		return runWhile(s, i+n, isOther)
	}
	end, last, _ := spaceRunEnd(s, i)
	if end == len(s) || last == i {
		return end // \s+(?!\S) to the end, or \s+ of one rune
	}
	return last // \s+(?!\S) backs off one rune
}

// cl100kMatcher is the LLaMA-3 / GPT-4 (cl100k) pre-tokenization regex, and
// with maxDigits 1 the Qwen2 one.
type cl100kMatcher struct{ maxDigits int }

func (m cl100kMatcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		end := m.matchAt(s, i)
		dst = append(dst, [2]int{i, end})
		i = end
	}
	return dst
}

func lowerASCII(c byte) byte { return c | 0x20 }

// contractionAt reports the length of (?i:'s|'t|'re|'ve|'m|'ll|'d) at i.
func contractionAt(s string, i int) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return 0
	}
	// Oniguruma folds U+017F (long s) to 's' and U+212A (Kelvin) to 'k'.
	if i+2 < len(s) && s[i+1] == 0xC5 && s[i+2] == 0xBF {
		return 3
	}
	switch lowerASCII(s[i+1]) {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if i+2 < len(s) && lowerASCII(s[i+2]) == 'e' {
			return 3
		}
	case 'l':
		if i+2 < len(s) && lowerASCII(s[i+2]) == 'l' {
			return 3
		}
	}
	return 0
}

func (m cl100kMatcher) matchAt(s string, i int) int {
	if k := contractionAt(s, i); k > 0 {
		return i + k
	}
	r, n := decodeAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return runWhile(s, i+n, isLetter)
	}
	if r != '\r' && r != '\n' && !isNumber(r) && i+n < len(s) {
		if r2, _ := decodeAt(s, i+n); isLetter(r2) {
			return runWhile(s, i+n, isLetter)
		}
	}
	// \p{N}{1,3}
	if isNumber(r) {
		j := i + n
		for k := 1; k < m.maxDigits && j < len(s); k++ {
			r2, n2 := decodeAt(s, j)
			if !isNumber(r2) {
				break
			}
			j += n2
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	start := -1
	if isOther(r) {
		start = i
	} else if r == ' ' && i+1 < len(s) {
		if r2, _ := decodeAt(s, i+1); isOther(r2) {
			start = i + 1
		}
	}
	if start >= 0 {
		j := runWhile(s, start, isOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// r is whitespace here.
	end, last, lastNL := spaceRunEnd(s, i)
	if lastNL > 0 {
		return lastNL // \s*[\r\n]+
	}
	if end == len(s) || last == i {
		return end
	}
	return last
}
