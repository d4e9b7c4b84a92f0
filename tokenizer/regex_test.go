package tokenizer

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func piecesOf(m matcher, s string) []string {
	var out []string
	for _, sp := range m.findAll(s, nil) {
		out = append(out, s[sp[0]:sp[1]])
	}
	return out
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// regexOracle is testdata/regex-oracle.json: per pattern name, the pattern
// and the reference library's splits of random strings.
type regexOracle map[string]struct {
	Pattern string `json:"pattern"`
	Cases   []struct {
		Text   string   `json:"text"`
		Pieces []string `json:"pieces"`
	} `json:"cases"`
}

// readRegexOracle reads testdata/regex-oracle.json.
func readRegexOracle(t *testing.T) regexOracle {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "regex-oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f regexOracle
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMatchersAgainstOniguruma holds the hand-written matchers and the
// regexp2 engine to the splits of the reference library's Oniguruma regex
// on random strings of tricky characters (testdata/regex-oracle.json, made by
// testdata/gen/make_regex_cases.js).
func TestMatchersAgainstOniguruma(t *testing.T) {
	f := readRegexOracle(t)
	fast := map[string]matcher{"gpt2": gpt2Matcher{}, "cl100k": cl100kMatcher{maxDigits: 3}, "qwen2": cl100kMatcher{maxDigits: 1}}
	for name, set := range f {
		fm, ok := fast[name]
		if !ok {
			t.Fatalf("no fast matcher for %s", name)
		}
		compiled, err := compileMatcher(set.Pattern, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, isFast := compiled.(regexp2Matcher); isFast {
			t.Errorf("%s: compileMatcher did not pick the hand-written matcher", name)
		}
		re, err := newRegexp2Matcher(set.Pattern)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Cases) < 100 {
			t.Fatalf("%s: only %d cases", name, len(set.Cases))
		}
		for _, c := range set.Cases {
			want := nonEmpty(c.Pieces)
			if got := piecesOf(fm, c.Text); !slices.Equal(got, want) {
				t.Errorf("%s fast %q:\n got %q\nwant %q", name, c.Text, got, want)
			}
			if got := piecesOf(re, c.Text); !slices.Equal(got, want) {
				t.Errorf("%s regexp2 %q:\n got %q\nwant %q", name, c.Text, got, want)
			}
		}
	}
}

// matcherAlphabet leaves out U+017F (long s): Oniguruma's (?i) folds it to
// "s" (so does cl100kMatcher), regexp2 does not.
var matcherAlphabet = []string{"a", "Z", "é", "'", "s", "t", "r", "e", "v", "l", "L", "d", "D", "m",
	" ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "1", "٣", "½", "!", ".", "😀", "\u200b", "\u0301", "中", "\u0085"}

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(matcherAlphabet[r.Intn(len(matcherAlphabet))])
	}
	return b.String()
}

// TestFastMatchersEqualRegexp2 compares the hand-written matchers with the
// regexp2 engine running the same pattern on many random strings.
func TestFastMatchersEqualRegexp2(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		pattern string
		fast    matcher
	}{{gpt2Pattern, gpt2Matcher{}}, {cl100kPattern, cl100kMatcher{3}}, {qwen2Pattern, cl100kMatcher{1}}} {
		re, err := newRegexp2Matcher(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3000; i++ {
			s := randomText(r, 1+r.Intn(20))
			if a, b := piecesOf(tc.fast, s), piecesOf(re, s); !slices.Equal(a, b) {
				t.Fatalf("pattern %q on %q:\nfast    %q\nregexp2 %q", tc.pattern, s, a, b)
			}
		}
	}
}

func TestMatcherTable(t *testing.T) {
	tests := []struct {
		m    matcher
		in   string
		want []string
	}{
		{gpt2Matcher{}, "Hello world", []string{"Hello", " world"}},
		{gpt2Matcher{}, "it's  ok\n\n x", []string{"it", "'s", " ", " ok", "\n\n", " x"}},
		{gpt2Matcher{}, "a   ", []string{"a", "   "}},
		{gpt2Matcher{}, "x1234 !!", []string{"x", "1234", " !!"}},
		{cl100kMatcher{3}, "I'LL pay 12345 now!\n\nok", []string{"I", "'LL", " pay", " ", "123", "45", " now", "!\n\n", "ok"}},
		{cl100kMatcher{3}, "  \n  x", []string{"  \n", " ", " x"}},
		{cl100kMatcher{1}, "2024", []string{"2", "0", "2", "4"}},
		{cl100kMatcher{3}, "x'ſa é'ſaa", []string{"x", "'ſ", "a", " é", "'ſ", "aa"}}, // as Oniguruma folds
		{literalMatcher("ab"), "xabab a", []string{"ab", "ab"}},
		{whitespaceMatcher{}, "Hi, you!  ok", []string{"Hi", ",", "you", "!", "ok"}},
	}
	for _, tc := range tests {
		if got := piecesOf(tc.m, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%T %q = %q, want %q", tc.m, tc.in, got, tc.want)
		}
	}
}

func FuzzMatchers(f *testing.F) {
	for _, s := range []string{"Hello world", "it's\n\n  x", "ſ'S 12345", "\r\n\t \u00a0x", "😀!!\n"} {
		f.Add(s)
	}
	g2, _ := newRegexp2Matcher(gpt2Pattern)
	cl, _ := newRegexp2Matcher(cl100kPattern)
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8ValidString(s) || len(s) > 256 || strings.ContainsRune(s, 'ſ') {
			return
		}
		if a, b := piecesOf(gpt2Matcher{}, s), piecesOf(g2, s); !slices.Equal(a, b) {
			t.Fatalf("gpt2 on %q: fast %q regexp2 %q", s, a, b)
		}
		if a, b := piecesOf(cl100kMatcher{3}, s), piecesOf(cl, s); !slices.Equal(a, b) {
			t.Fatalf("cl100k on %q: fast %q regexp2 %q", s, a, b)
		}
	})
}

func utf8ValidString(s string) bool { return strings.ToValidUTF8(s, "") == s }

// TestSplitGPT2 holds the exported split (bpetrain's word splitter) to the
// reference library's GPT-2 regex cases.
func TestSplitGPT2(t *testing.T) {
	f := readRegexOracle(t)
	cases := f["gpt2"].Cases
	if len(cases) < 10 {
		t.Fatalf("only %d gpt2 cases", len(cases))
	}
	for _, c := range cases {
		var got []string
		SplitGPT2(c.Text, func(p string) { got = append(got, p) })
		if !slices.Equal(got, c.Pieces) && !(len(got) == 0 && len(c.Pieces) == 0) {
			t.Errorf("SplitGPT2(%q) = %q, want %q", c.Text, got, c.Pieces)
		}
	}
}
