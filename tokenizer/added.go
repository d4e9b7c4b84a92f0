package tokenizer

import (
	"sort"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's "added_tokens".
type addedToken struct {
	id         int
	content    string // what is matched: the content, or its normalized form
	singleWord bool
	lstrip     bool
	rstrip     bool
	normalized bool
	special    bool
}

// addedMatcher finds added tokens in text, leftmost-longest like the
// reference's Aho-Corasick automaton, then applies single_word, lstrip and
// rstrip the way AddedVocabulary::find_matches does.
type addedMatcher struct {
	byFirst [256][]*addedToken // candidates by first byte, longest first
	any     bool
}

func newAddedMatcher(toks []*addedToken) *addedMatcher {
	m := &addedMatcher{}
	for _, t := range toks {
		if t.content == "" {
			continue
		}
		b := t.content[0]
		m.byFirst[b] = append(m.byFirst[b], t)
		m.any = true
	}
	for b := range m.byFirst {
		l := m.byFirst[b]
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].content) > len(l[j].content) })
	}
	return m
}

// segment is a piece of text that is either an added token (id >= 0) or text
// still to be tokenized (id == -1).
type segment struct {
	s     string
	id    int
	first bool
}

// split cuts p into segments. Empty text segments are dropped.
func (m *addedMatcher) split(p piece, out []segment) []segment {
	s := p.s
	if m == nil || !m.any {
		if s != "" {
			out = append(out, segment{s: s, id: -1, first: p.first})
		}
		return out
	}
	startOffset := 0
	push := func(a, b, id int) {
		if b > a {
			out = append(out, segment{s: s[a:b], id: id, first: p.first && a == 0})
		}
	}
	for i := 0; i < len(s); {
		cands := m.byFirst[s[i]]
		var hit *addedToken
		for _, t := range cands {
			if len(s)-i >= len(t.content) && s[i:i+len(t.content)] == t.content {
				hit = t
				break
			}
		}
		if hit == nil {
			i++
			continue
		}
		start, stop := i, i+len(hit.content)
		i = stop
		if hit.singleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if hit.lstrip {
			ns := trailingSpaceStart(s[:start])
			if ns < startOffset {
				ns = startOffset
			}
			start = ns
		}
		if hit.rstrip {
			// The reference keeps scanning from the unstripped end.
			stop += leadingSpaceLen(s[stop:])
		}
		push(startOffset, start, -1)
		out = append(out, segment{s: s[start:stop], id: hit.id, first: p.first && start == 0})
		startOffset = stop
	}
	push(startOffset, len(s), -1)
	return out
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWordRune(r)
}

// trailingSpaceStart is where the trailing whitespace of s starts.
func trailingSpaceStart(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !isSpace(r) {
			break
		}
		i -= n
	}
	return i
}

func leadingSpaceLen(s string) int { return runWhile(s, 0, isSpace) }
