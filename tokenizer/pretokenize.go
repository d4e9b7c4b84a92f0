package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is one segment of text between pipeline stages.
type piece struct {
	s string
	// first is true when the piece starts at offset 0 of the original text
	// (Metaspace's prepend_scheme "first" looks at it).
	first bool
	// cont is true when the piece continues the previous one: a long text
	// cut into pieces (see hfEngine.encodePiece). The first pre-tokenizer
	// stage then adds no prefix space or ▁ (the whole text would not have
	// one there).
	cont bool
}

// preTokenizer splits pieces into words.
type preTokenizer interface {
	split(st *encState, in []piece, out []piece) []piece
}

type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

type span struct {
	start, end int
	match      bool
}

// splitSpans cuts p by the given matches (sorted, non-overlapping) with the
// reference's SplitDelimiterBehavior semantics, and appends the non-empty
// parts to out.
func splitSpans(p piece, matches [][2]int, invert bool, beh splitBehavior, out []piece) []piece {
	s := p.s
	if s == "" {
		return out
	}
	var spans []span
	prev := 0
	for _, m := range matches {
		if prev != m[0] {
			spans = append(spans, span{prev, m[0], invert})
		}
		spans = append(spans, span{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev != len(s) {
		spans = append(spans, span{prev, len(s), invert})
	}
	type cut struct {
		start, end int
		remove     bool
	}
	var cuts []cut
	switch beh {
	case behIsolated:
		for _, sp := range spans {
			cuts = append(cuts, cut{sp.start, sp.end, false})
		}
	case behRemoved:
		for _, sp := range spans {
			cuts = append(cuts, cut{sp.start, sp.end, sp.match})
		}
	case behContiguous:
		prevMatch := false
		for _, sp := range spans {
			if sp.match == prevMatch && len(cuts) > 0 {
				cuts[len(cuts)-1].end = sp.end
			} else {
				cuts = append(cuts, cut{sp.start, sp.end, false})
			}
			prevMatch = sp.match
		}
	case behMergedWithPrevious:
		prevMatch := false
		for _, sp := range spans {
			if sp.match && !prevMatch && len(cuts) > 0 {
				cuts[len(cuts)-1].end = sp.end
			} else {
				cuts = append(cuts, cut{sp.start, sp.end, false})
			}
			prevMatch = sp.match
		}
	case behMergedWithNext:
		prevMatch := false
		var rev []cut
		for i := len(spans) - 1; i >= 0; i-- {
			sp := spans[i]
			if sp.match && !prevMatch && len(rev) > 0 {
				rev[len(rev)-1].start = sp.start
			} else {
				rev = append(rev, cut{sp.start, sp.end, false})
			}
			prevMatch = sp.match
		}
		for i := len(rev) - 1; i >= 0; i-- {
			cuts = append(cuts, rev[i])
		}
	}
	for _, c := range cuts {
		if c.remove || c.end <= c.start {
			continue
		}
		out = append(out, piece{s: s[c.start:c.end], first: p.first && c.start == 0})
	}
	return out
}

// runeMatches returns one match per rune satisfying f (the reference's
// Pattern for closures).
func runeMatches(s string, f func(rune) bool, dst [][2]int) [][2]int {
	for i, r := range s {
		if f(r) {
			dst = append(dst, [2]int{i, i + utf8.RuneLen(r)})
		}
	}
	return dst
}

// splitPre is the Split pre-tokenizer (a regex or a literal string).
type splitPre struct {
	m      matcher
	beh    splitBehavior
	invert bool
	// cutSafe: the pattern is one whose words never span a space that
	// follows a non-space (see spaceCut), so text may be cut there.
	cutSafe bool
}

func (p splitPre) split(st *encState, in, out []piece) []piece {
	var buf [][2]int
	for _, pc := range in {
		buf = p.m.findAll(pc.s, buf[:0])
		out = splitSpans(pc, buf, p.invert, p.beh, out)
	}
	return out
}

// byteLevelPre is the ByteLevel pre-tokenizer. When mapBytes is false the
// pieces keep their raw bytes and the model maps them (the last stage of a
// pre-tokenizer always hands its words straight to the model).
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
	mapBytes       bool
}

func (p byteLevelPre) split(st *encState, in, out []piece) []piece {
	var buf [][2]int
	for _, pc := range in {
		if p.addPrefixSpace && !pc.cont && !strings.HasPrefix(pc.s, " ") {
			pc.s = " " + pc.s
		}
		if p.useRegex {
			buf = gpt2Matcher{}.findAll(pc.s, buf[:0])
			start := len(out)
			out = splitSpans(pc, buf, false, behIsolated, out)
			if p.mapBytes {
				for i := start; i < len(out); i++ {
					out[i].s = byteLevelEncode(out[i].s)
				}
			}
			continue
		}
		if pc.s == "" {
			continue
		}
		if p.mapBytes {
			pc.s = byteLevelEncode(pc.s)
		}
		out = append(out, pc)
	}
	return out
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspacePre replaces spaces with the replacement rune (▁), prepends one
// per prepend_scheme, and splits before each replacement rune.
type metaspacePre struct {
	repl   rune
	scheme prependScheme
	split_ bool
}

func (p metaspacePre) split(st *encState, in, out []piece) []piece {
	rs := string(p.repl)
	var buf [][2]int
	for _, pc := range in {
		s := strings.ReplaceAll(pc.s, " ", rs)
		switch p.scheme {
		case prependAlways:
			if !strings.HasPrefix(s, rs) && !pc.cont {
				s = rs + s
			}
		case prependFirst:
			if !strings.HasPrefix(s, rs) && pc.first {
				s = rs + s
			}
		}
		np := piece{s: s, first: pc.first}
		if !p.split_ {
			if s != "" {
				out = append(out, np)
			}
			continue
		}
		buf = runeMatches(s, func(r rune) bool { return r == p.repl }, buf[:0])
		out = splitSpans(np, buf, false, behMergedWithNext, out)
	}
	return out
}

// funcPre splits on runes satisfying f with a behavior (WhitespaceSplit,
// Digits, Punctuation, CharDelimiterSplit).
type funcPre struct {
	f   func(rune) bool
	beh splitBehavior
	// cutSafe marks WhitespaceSplit (see splitPre.cutSafe).
	cutSafe bool
}

func (p funcPre) split(st *encState, in, out []piece) []piece {
	var buf [][2]int
	for _, pc := range in {
		buf = runeMatches(pc.s, p.f, buf[:0])
		out = splitSpans(pc, buf, false, p.beh, out)
	}
	return out
}

// isWordRune is the Unicode \w of Rust's regex crate.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return (r|0x20 >= 'a' && r|0x20 <= 'z') || (r >= '0' && r <= '9') || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.In(r, unicode.Nd, unicode.Nl, unicode.Pc, unicode.Other_Alphabetic, unicode.Join_Control)
}

// whitespaceMatcher is \w+|[^\w\s]+.
type whitespaceMatcher struct{}

func (whitespaceMatcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		r, n := decodeAt(s, i)
		switch {
		case isWordRune(r):
			end := runWhile(s, i+n, isWordRune)
			dst = append(dst, [2]int{i, end})
			i = end
		case !isSpace(r):
			end := runWhile(s, i+n, func(r rune) bool { return !isWordRune(r) && !isSpace(r) })
			dst = append(dst, [2]int{i, end})
			i = end
		default:
			i += n
		}
	}
	return dst
}

// isPunct is Rust's is_ascii_punctuation || Unicode P.
func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return unicode.IsPunct(r)
}

type bertPre struct{}

func (bertPre) split(st *encState, in, out []piece) []piece {
	tmp := funcPre{f: isSpace, beh: behRemoved}.split(st, in, nil)
	return funcPre{f: isPunct, beh: behIsolated}.split(st, tmp, out)
}

type seqPre []preTokenizer

func (q seqPre) split(st *encState, in, out []piece) []piece {
	cur := in
	for i, p := range q {
		if i == len(q)-1 {
			return p.split(st, cur, out)
		}
		cur = p.split(st, cur, nil)
	}
	return append(out, cur...)
}

// Known Split regexes whose words never span a space (U+0020) that follows
// a non-whitespace character: every alternative is a run of one class that
// excludes the space, or starts with an optional space, or is whitespace
// starting at a whitespace character; none looks behind. GPT-2's
// (ByteLevel's own), cl100k's (LLaMA-3) and Qwen2's.
var cutSafePatterns = map[string]bool{gpt2Pattern: true, cl100kPattern: true, qwen2Pattern: true}

// cutSafe reports whether a text may be pre-tokenized in pieces cut before
// a space that follows a non-space (spaceCut) with exactly the words of the
// whole text: the first stage must split at every such space and depend on
// nothing across it (its prefix space or ▁ is skipped on a continuation
// piece); later stages then see the same pieces either way.
func cutSafe(p preTokenizer) bool {
	switch v := p.(type) {
	case seqPre:
		return len(v) > 0 && cutSafe(v[0])
	case byteLevelPre:
		return v.useRegex
	case metaspacePre:
		return v.split_ && v.repl != ' '
	case splitPre:
		return v.cutSafe
	case funcPre:
		return v.cutSafe
	case bertPre:
		return true
	}
	return false
}

// spaceCut returns the first index i ≥ from where s[i] is a space (U+0020)
// that follows a non-whitespace character, or -1.
func spaceCut(s string, from int) int {
	for i := max(from, 1); i < len(s); i++ {
		if s[i] != ' ' {
			continue
		}
		if r, _ := utf8.DecodeLastRuneInString(s[:i]); !isSpace(r) && r != utf8.RuneError {
			return i
		}
	}
	return -1
}
