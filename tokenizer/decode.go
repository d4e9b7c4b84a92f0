package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder is one stage of the reference's decode_chain: tokens in, tokens
// out; the final result is their concatenation.
type decoder interface {
	decodeChain(toks []string) []string
}

type byteLevelDec struct{}

func (byteLevelDec) decodeChain(toks []string) []string {
	var buf []byte
	for _, t := range toks {
		buf = byteLevelDecodeToken(buf, t)
	}
	return []string{lossyUTF8(buf)}
}

// metaspaceDec turns ▁ back into spaces; in the first token the reference
// drops them instead (unless prepend_scheme is "never").
type metaspaceDec struct {
	repl   rune
	scheme prependScheme
}

func (d metaspaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var b strings.Builder
		for _, r := range t {
			if r == d.repl {
				if i == 0 && d.scheme != prependNever {
					continue
				}
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
		out[i] = b.String()
	}
	return out
}

type replaceDec struct {
	m       matcher
	content string
}

func (d replaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = replaceAll(d.m, t, d.content)
	}
	return out
}

// byteFallbackDec turns runs of <0xXX> tokens into text; an invalid run
// becomes one U+FFFD per byte.
type byteFallbackDec struct{}

func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

func (byteFallbackDec) decodeChain(toks []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type fuseDec struct{}

func (fuseDec) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

// stripDec removes up to start leading and stop trailing content runes.
type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		lo := 0
		for k := 0; k < d.start && k < len(rs); k++ {
			if rs[k] != d.content {
				break
			}
			lo = k + 1
		}
		hi := len(rs)
		for k := 0; k < d.stop && k < len(rs); k++ {
			idx := len(rs) - k - 1
			if rs[idx] != d.content {
				break
			}
			hi = idx
		}
		if hi < lo {
			hi = lo
		}
		out[i] = string(rs[lo:hi])
	}
	return out
}

type wordPieceDec struct {
	prefix  string
	cleanup bool
}

var cleanupReplacer = []struct{ from, to string }{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
	{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

func cleanupTokenization(s string) string {
	for _, r := range cleanupReplacer {
		s = strings.ReplaceAll(s, r.from, r.to)
	}
	return s
}

func (d wordPieceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i != 0 {
			if strings.HasPrefix(t, d.prefix) {
				t = t[len(d.prefix):]
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanupTokenization(t)
		}
		out[i] = t
	}
	return out
}

type bpeDec struct{ suffix string }

func (d bpeDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}

// ctcDec collapses repeats, drops the pad token and maps the word delimiter
// to a space.
type ctcDec struct {
	pad, delim string
	cleanup    bool
}

func (d ctcDec) decodeChain(toks []string) []string {
	var out []string
	for i, t := range toks {
		if i > 0 && toks[i-1] == t {
			continue
		}
		t = strings.ReplaceAll(t, d.pad, "")
		if d.cleanup {
			t = strings.ReplaceAll(cleanupTokenization(t), d.delim, " ")
		}
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

type seqDec []decoder

func (q seqDec) decodeChain(toks []string) []string {
	for _, d := range q {
		toks = d.decodeChain(toks)
	}
	return toks
}

// postProcessor adds special tokens around a single sequence.
type postProcessor interface {
	process(ids []int) []int
}

type templateItem struct {
	special []int // ids of a special token
	seq     bool  // the sequence itself ($A)
}

type templatePost struct{ single []templateItem }

func (p templatePost) process(ids []int) []int {
	out := make([]int, 0, len(ids)+4)
	for _, it := range p.single {
		if it.seq {
			out = append(out, ids...)
		} else {
			out = append(out, it.special...)
		}
	}
	return out
}

// wrapPost is BertProcessing / RobertaProcessing: cls + ids + sep.
type wrapPost struct{ cls, sep int }

func (p wrapPost) process(ids []int) []int {
	out := make([]int, 0, len(ids)+2)
	out = append(out, p.cls)
	out = append(out, ids...)
	return append(out, p.sep)
}

type identityPost struct{}

func (identityPost) process(ids []int) []int { return ids }

type seqPost []postProcessor

func (q seqPost) process(ids []int) []int {
	for _, p := range q {
		ids = p.process(ids)
	}
	return ids
}
