package synth

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var (
	reCmp    = regexp.MustCompile(`(\w+) is (\w+) than (\w+)\.`)
	reBought = regexp.MustCompile(`bought (\w+) \w+ and (\w+) \w+ at`)
	rePieces = regexp.MustCompile(`bought (\w+) pieces of fruit\.`)
	reEvery  = regexp.MustCompile(`^Every (.+) carries a (\w+) lantern\. (\w+) is a (.+)\.$`)
	reCarry  = regexp.MustCompile(`^(\w+) (carries|does not carry) a (\w+) lantern\.$`)
	rePaint  = regexp.MustCompile(`painted (\w+)\.`)
)

func numberOf(w string) int {
	for i, n := range numberWords {
		if n == w {
			return i
		}
	}
	return -1
}

// nliOracle reads only the premise and hypothesis.
func nliOracle(premise, hyp string) string {
	switch {
	case reCmp.MatchString(premise):
		gt := map[[2]string]bool{}
		var names []string
		for _, m := range reCmp.FindAllStringSubmatch(premise, -1) {
			gt[[2]string{m[1], m[3]}] = true
			names = append(names, m[1], m[3])
		}
		for _, a := range names { // transitive closure
			for _, b := range names {
				for _, c := range names {
					if gt[[2]string{a, b}] && gt[[2]string{b, c}] {
						gt[[2]string{a, c}] = true
					}
				}
			}
		}
		h := reCmp.FindStringSubmatch(hyp)
		switch {
		case gt[[2]string{h[1], h[3]}]:
			return "entailment"
		case gt[[2]string{h[3], h[1]}]:
			return "contradiction"
		}
		return "neutral"
	case reBought.MatchString(premise):
		m := reBought.FindStringSubmatch(premise)
		h := rePieces.FindStringSubmatch(hyp)
		if h == nil {
			return "neutral"
		}
		if numberOf(m[1])+numberOf(m[2]) == numberOf(h[1]) {
			return "entailment"
		}
		return "contradiction"
	case reEvery.MatchString(premise):
		m := reEvery.FindStringSubmatch(premise)
		h := reCarry.FindStringSubmatch(hyp)
		if h[1] != m[3] || m[4] != m[1] || h[3] != m[2] {
			return "neutral"
		}
		if h[2] == "carries" {
			return "entailment"
		}
		return "contradiction"
	default:
		p, h := rePaint.FindStringSubmatch(premise), rePaint.FindStringSubmatch(hyp)
		if h == nil {
			return "neutral"
		}
		if p[1] == h[1] {
			return "entailment"
		}
		return "contradiction"
	}
}

// qnliOracle: the sentence answers the question when it has the answering
// form of the question's kind with the same entity.
func qnliOracle(q, s string) string {
	for _, k := range qnliKinds {
		qre := regexp.MustCompile("^" + strings.Replace(regexp.QuoteMeta(k.Question), `\{E\}`, "(.+)", 1) + "$")
		m := qre.FindStringSubmatch(q)
		if m == nil {
			continue
		}
		ans := regexp.QuoteMeta(k.Answer)
		ans = strings.NewReplacer(`\{E\}`, "(.+?)", `\{X\}`, ".+", `\{Y\}`, `\d+`).Replace(ans)
		a := regexp.MustCompile("^" + ans + "$").FindStringSubmatch(s)
		if a != nil && strings.EqualFold(a[1], m[1]) {
			return "entailment"
		}
		return "not_entailment"
	}
	return "?"
}

func TestNLIOracles(t *testing.T) {
	o, err := Generate(small(17))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file     string
		p, h, lb int // columns
		oracle   func(a, b string) string
	}{
		{"tasks/mnli/dev_matched.tsv", 4, 5, 7, nliOracle},
		{"tasks/mnli/dev_mismatched.tsv", 4, 5, 7, nliOracle},
		{"tasks/qnli/dev.tsv", 1, 2, 3, qnliOracle},
	} {
		lines := strings.Split(strings.TrimSpace(string(o.File(tc.file).Data)), "\n")[1:]
		seen := map[string]int{}
		for i, l := range lines {
			c := strings.Split(l, "\t")
			got := tc.oracle(c[tc.p], c[tc.h])
			seen[c[tc.lb]]++
			if got != c[tc.lb] {
				t.Errorf("%s row %d: oracle %s, label %s (%q / %q)", tc.file, i, got, c[tc.lb], c[tc.p], c[tc.h])
			}
		}
		if len(seen) < 2 {
			t.Errorf("%s: labels %v, want every class", tc.file, fmt.Sprint(seen))
		}
	}
}
