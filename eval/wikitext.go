package eval

import (
	"regexp"
	"strings"
)

// pyWS is Python's \s for str patterns as a Go character class body.
const pyWS = `\t\n\v\f\r \x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`

var (
	wtApostrophe = regexp.MustCompile(`/' [0-9]/`)
	wtParens     = regexp.MustCompile(`\([` + pyWS + `]*([^)]*?)[` + pyWS + `]*\)`)
	wtBrackets   = regexp.MustCompile(`\[[` + pyWS + `]*([^\]]*?)[` + pyWS + `]*\]`)
	wtBraces     = regexp.MustCompile(`\{[` + pyWS + `]*([^}]*?)[` + pyWS + `]*\}`)
	wtDquotes    = regexp.MustCompile(`"[` + pyWS + `]*([^"]*?)[` + pyWS + `]*"`)
	wtSquotes    = regexp.MustCompile(`'[` + pyWS + `]*([^']*?)[` + pyWS + `]*'`)
)

// wikitextDetokenize is lm-evaluation-harness's wikitext_detokenizer
// (lm_eval/tasks/wikitext/preprocess_wikitext.py), step for step.
func wikitextDetokenize(s string) string {
	// contractions
	s = strings.ReplaceAll(s, "s '", "s'")
	s = wtApostrophe.ReplaceAllLiteralString(s, "/'[0-9]/")
	// number separators
	s = strings.ReplaceAll(s, " @-@ ", "-")
	s = strings.ReplaceAll(s, " @,@ ", ",")
	s = strings.ReplaceAll(s, " @.@ ", ".")
	// punctuation
	for _, p := range []string{":", ";", ".", "!", "?", ","} {
		s = strings.ReplaceAll(s, " "+p+" ", p+" ")
	}
	// double brackets
	s = wtParens.ReplaceAllString(s, "(${1})")
	s = wtBrackets.ReplaceAllString(s, "[${1}]")
	s = wtBraces.ReplaceAllString(s, "{${1}}")
	s = wtDquotes.ReplaceAllString(s, `"${1}"`)
	s = wtSquotes.ReplaceAllString(s, "'${1}'")
	// miscellaneous
	s = strings.ReplaceAll(s, "= = = =", "====")
	s = strings.ReplaceAll(s, "= = =", "===")
	s = strings.ReplaceAll(s, "= =", "==")
	s = strings.ReplaceAll(s, " \u00b0 ", "\u00b0")
	s = strings.ReplaceAll(s, " \n", "\n")
	s = strings.ReplaceAll(s, "\n ", "\n")
	s = strings.ReplaceAll(s, " N ", " 1 ")
	s = strings.ReplaceAll(s, " 's", "'s")
	return s
}

// pyWordCount is len(re.split(r"\s+", s)) in Python: one more than the
// number of whitespace runs (so leading/trailing whitespace counts an empty
// word, as the harness's word_perplexity does).
func pyWordCount(s string) int {
	n, inRun := 1, false
	for _, r := range s {
		if pyIsSpace(r) {
			if !inRun {
				n++
				inRun = true
			}
		} else {
			inRun = false
		}
	}
	return n
}

// rollingWindow is one scoring request of a rolling log-likelihood.
type rollingWindow struct{ ctx, cont []int }

// rollingWindows splits tokens as lm-evaluation-harness's
// get_rolling_token_windows(context_len=1) followed by make_disjoint_window:
// the first window predicts min(maxLen, n) tokens conditioned on prefix;
// each later one predicts up to maxLen tokens, conditioned on everything
// that fits before them in maxLen+1 tokens (one token for a full window, a
// longer overlap for the last, partial one).
func rollingWindows(tokens []int, prefix, maxLen int) []rollingWindow {
	if len(tokens) == 0 || maxLen < 1 {
		return nil
	}
	first := min(maxLen, len(tokens))
	out := []rollingWindow{{
		ctx:  append([]int{prefix}, tokens[:first-1]...),
		cont: tokens[:first],
	}}
	for predicted := first; predicted < len(tokens); {
		n := min(len(tokens)-predicted, maxLen)
		end := predicted + n
		in := tokens[end-maxLen-1 : end-1]
		pred := tokens[end-n : end]
		out = append(out, rollingWindow{ctx: in[:len(in)-(len(pred)-1)], cont: pred})
		predicted += n
	}
	// make_disjoint_window for the first window too.
	w := &out[0]
	w.ctx = w.ctx[:len(w.ctx)-(len(w.cont)-1)]
	return out
}
