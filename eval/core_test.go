package eval

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
)

func TestEncodePair(t *testing.T) {
	tok := charTok{}
	ids := func(s string) []int { return tok.Encode(s, false) }
	tests := []struct {
		name, ctx, cont string
		addBOS          bool
		wantCtx         []int
		wantCont        []int
	}{
		{"plain", "Q:", " a", false, ids("Q:"), ids(" a")},
		{"trailing space moves", "Answer: ", "A", false, ids("Answer:"), ids(" A")},
		{"trailing newline and spaces move", "x \n ", "y", false, ids("x"), ids(" \n y")},
		{"bos", "Q:", " a", true, append([]int{1}, ids("Q:")...), ids(" a")},
		{"empty context gets BOS", "", "abc", false, []int{1}, ids("abc")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k, err := encodePair(tok, tt.addBOS, tt.ctx, tt.cont)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, tt.wantCtx) || !reflect.DeepEqual(k, tt.wantCont) {
				t.Errorf("got %v | %v, want %v | %v", c, k, tt.wantCtx, tt.wantCont)
			}
		})
	}
	if _, _, err := encodePair(charTok{noBOS: true}, false, "", "x"); !badinput.Is(err) {
		t.Errorf("empty context without BOS: err = %v, want bad input", err)
	}
}

// TestScorerMatchesReference checks log-likelihoods against the model's
// definition for random requests, with and without prefix reuse, with
// contexts that share prefixes and requests that need left truncation.
func TestScorerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	randIDs := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = 3 + rng.Intn(40)
		}
		return out
	}
	type req struct{ ctx, cont []int }
	var reqs []req
	base := randIDs(20)
	for i := 0; i < 40; i++ {
		var ctx []int
		switch i % 4 {
		case 0: // same context as the previous request
			if len(reqs) > 0 {
				ctx = reqs[len(reqs)-1].ctx
			} else {
				ctx = base
			}
		case 1: // shares a prefix
			ctx = append(append([]int{}, base[:5+rng.Intn(10)]...), randIDs(1+rng.Intn(8))...)
		case 2: // long: needs truncation at maxLen 32
			ctx = randIDs(30 + rng.Intn(20))
		default:
			ctx = randIDs(1 + rng.Intn(10))
		}
		reqs = append(reqs, req{ctx, randIDs(1 + rng.Intn(6))})
	}
	const maxLen = 32
	var forwarded [2]int64
	for k, reuse := range []bool{false, true} {
		m := newHistLM(64)
		sc := newScorer(m, maxLen, reuse)
		truncated := 0
		for i, r := range reqs {
			got, err := sc.loglik(context.Background(), r.ctx, r.cont)
			if err != nil {
				t.Fatal(err)
			}
			want := refLL(m, r.ctx, r.cont, maxLen)
			if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Fatalf("reuse=%v request %d: got %.12f, want %.12f", reuse, i, got, want)
			}
			if len(r.ctx)+len(r.cont) > maxLen+1 {
				truncated++
			}
		}
		if sc.truncated != truncated {
			t.Errorf("reuse=%v: truncated %d, want %d", reuse, sc.truncated, truncated)
		}
		forwarded[k] = sc.forwarded
	}
	if forwarded[1] >= forwarded[0] {
		t.Errorf("prefix reuse ran %d tokens, no reuse %d: want fewer", forwarded[1], forwarded[0])
	}
}

func TestScorerSharedContextRunsOnce(t *testing.T) {
	m := newHistLM(256)
	sc := newScorer(m, 0, true)
	ctx := charTok{}.Encode("Question: which?\nAnswer:", false)
	conts := [][]int{{40}, {41, 42}, {43, 44, 45}, {46}}
	for _, c := range conts {
		if _, err := sc.loglik(context.Background(), ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// The context once, then len(cont)-1 tokens per choice.
	want := int64(len(ctx) + 0 + 1 + 2 + 0)
	if sc.forwarded != want {
		t.Errorf("forwarded %d tokens, want %d", sc.forwarded, want)
	}
}

func TestScorerErrors(t *testing.T) {
	m := newHistLM(8)
	sc := newScorer(m, 0, true)
	if _, err := sc.loglik(context.Background(), []int{5}, make([]int, 9)); !errors.Is(err, errContinuationTooLong) {
		t.Errorf("continuation longer than context: err = %v", err)
	}
	if _, err := sc.loglik(context.Background(), []int{5}, []int{charVocab}); err == nil || badinput.Is(err) {
		t.Errorf("id outside vocab: err = %v, want a runtime error", err)
	}
	m.failAfter = 1
	if _, err := sc.loglik(context.Background(), []int{5, 6}, []int{7}); err == nil {
		t.Error("model failure not reported")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sc.loglik(ctx, []int{5}, []int{6}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestRollingWindows(t *testing.T) {
	// The harness's example: tokens 0..8, prefix P, max_seq_len 3.
	toks := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	const P = 99
	got := rollingWindows(toks, P, 3)
	want := []rollingWindow{
		{ctx: []int{P}, cont: []int{0, 1, 2}},
		{ctx: []int{2}, cont: []int{3, 4, 5}},
		{ctx: []int{5}, cont: []int{6, 7, 8}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("windows = %v, want %v", got, want)
	}
	// A partial last window keeps a longer context (make_disjoint_window).
	got = rollingWindows(toks[:8], P, 3)
	want = []rollingWindow{
		{ctx: []int{P}, cont: []int{0, 1, 2}},
		{ctx: []int{2}, cont: []int{3, 4, 5}},
		{ctx: []int{4, 5}, cont: []int{6, 7}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("partial windows = %v, want %v", got, want)
	}
	if w := rollingWindows(toks[:2], P, 3); !reflect.DeepEqual(w, []rollingWindow{{ctx: []int{P}, cont: []int{0, 1}}}) {
		t.Errorf("short text windows = %v", w)
	}
	if w := rollingWindows(nil, P, 3); w != nil {
		t.Errorf("empty text windows = %v", w)
	}
}

func TestRollingLoglikelihoodMatchesReference(t *testing.T) {
	m := newHistLM(64)
	toks := charTok{}.Encode("The quick brown fox jumps over the lazy dog, twice over.", false)
	const maxLen = 16
	ll, n, err := RollingLoglikelihood(context.Background(), m, toks, 1, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(toks) + maxLen - 1) / maxLen; n != want {
		t.Errorf("%d windows, want %d", n, want)
	}
	want := refRollingLogLik(m, toks, maxLen)
	if math.Abs(ll-want) > 1e-9*math.Abs(want) {
		t.Errorf("rolling ll = %.12f, want %.12f", ll, want)
	}
}

func TestPerplexityGPTQ(t *testing.T) {
	m := newHistLM(64)
	ids := charTok{}.Encode("Perplexity windows are non-overlapping; the tail is dropped here!", true)
	const seqlen = 16
	res, err := PerplexityGPTQ(context.Background(), m, ids, seqlen)
	if err != nil {
		t.Fatal(err)
	}
	n := len(ids) / seqlen
	want := gptqPPL(m, ids, seqlen)
	if math.Abs(res.PPL-want) > 1e-9*want {
		t.Errorf("ppl = %.12f, want %.12f", res.PPL, want)
	}
	if res.Windows != n || res.Dropped != len(ids)-n*seqlen || res.Predicted != n*(seqlen-1) || res.Seqlen != seqlen {
		t.Errorf("result %+v inconsistent with %d windows", res, n)
	}
	for _, bad := range []int{1, 65, len(ids) + 1} {
		if bad > m.MaxContext() || bad == 1 {
			if _, err := PerplexityGPTQ(context.Background(), m, ids, bad); !badinput.Is(err) {
				t.Errorf("seqlen %d: err = %v, want bad input", bad, err)
			}
		}
	}
	if _, err := PerplexityGPTQ(context.Background(), m, ids[:10], seqlen); !badinput.Is(err) {
		t.Errorf("text shorter than a window: err = %v", err)
	}
}

// Expected strings below were produced by the harness's Python functions.
func TestWikitextDetokenize(t *testing.T) {
	tests := []struct {
		in, want string
		words    int
		bytes    int
	}{
		{" = Robert Boulter = \n \n Robert Boulter is an English film , television and theatre actor . He had a guest @-@ starring role in 2000 , and 1 @,@ 000 people ( about 3 @.@ 5 % ) said \" it was great \" . \n",
			" = Robert Boulter =\n\nRobert Boulter is an English film, television and theatre actor. He had a guest-starring role in 2000, and 1,000 people (about 3.5 %) said \"it was great\".\n", 47, 200},
		{" = = = Gameplay = = = \n The game 's engine ( \"  Unreal  \" ) sold 10 @,@ 000 copies ; players ' reviews : mixed ! Why ? It costs N dollars at 5 \u00b0 C . \n",
			" === Gameplay ===\nThe game's engine (\"Unreal\") sold 10,000 copies; players' reviews: mixed! Why? It costs 1 dollars at 5\u00b0C.\n", 41, 151},
		{"a [ b ] { c } ' d ' the players ' /' 5/ tools\u00a0( x\u3000)", "a [b] {c} 'd' the players'/'[0-9]/ tools\u00a0(x)", 19, 54},
		{"", "", 1, 0},
		{"no change here", "no change here", 3, 14},
	}
	for i, tt := range tests {
		if got := wikitextDetokenize(tt.in); got != tt.want {
			t.Errorf("case %d:\n got %q\nwant %q", i, got, tt.want)
		}
		if got := pyWordCount(tt.in); got != tt.words {
			t.Errorf("case %d: words %d, want %d", i, got, tt.words)
		}
		if len(tt.in) != tt.bytes {
			t.Errorf("case %d: bytes %d, want %d", i, len(tt.in), tt.bytes)
		}
	}
	for _, c := range []struct {
		in   string
		want int
	}{{"a b", 2}, {" a", 2}, {"", 1}, {"a\u00a0b\u3000c\x1cd", 4}, {"  ", 2}, {"x\n\ny z\t", 4}} {
		if got := pyWordCount(c.in); got != c.want {
			t.Errorf("pyWordCount(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestHellaswagPreprocessAndCapitalize(t *testing.T) {
	for _, c := range [][2]string{
		{"  Removing ice from car: [header] Then, [title] Use a scraper.  [step] Scrape  ice  ", "Removing ice from car: Then,. Use a scraper.  Scrape ice"},
		{"A man [x] is  sitting   down.", "A man is sitting  down."},
		{"[title] x", " x"},
	} {
		if got := hellaswagPreprocess(c[0]); got != c[1] {
			t.Errorf("preprocess(%q) = %q, want %q", c[0], got, c[1])
		}
	}
	for _, c := range [][2]string{{"hello World", "Hello world"}, {"ÉCOLE ABC", "École abc"}, {"ǆemal", "ǅemal"}, {"", ""}, {"1abc DEF", "1abc def"}} {
		if got := pyCapitalize(c[0]); got != c[1] {
			t.Errorf("capitalize(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

func TestMetricsArithmetic(t *testing.T) {
	if got := argmax([]float64{-3, -1, -1, -2}); got != 1 {
		t.Errorf("argmax ties: %d, want the first maximum 1", got)
	}
	if got := argmax([]float64{-3, math.NaN(), 0}); got != 1 {
		t.Errorf("argmax with NaN: %d, want 1 (numpy)", got)
	}
	// acc_norm divides by characters, not tokens or bytes: "é" is one character.
	d := newChoiceDoc("ctx", []string{"ab", "éé", "abcd"}, 2)
	if !reflect.DeepEqual(d.normLen, []int{2, 2, 4}) {
		t.Fatalf("normLen = %v", d.normLen)
	}
	m := scoreAccNorm(d, []float64{-2, -3, -6}) // per char: -1, -1.5, -1.5 → acc 0, acc_norm 0
	if m["acc"] != 0 || m["acc_norm"] != 0 {
		t.Errorf("metrics %v", m)
	}
	m = scoreAccNorm(d, []float64{-5, -3, -4}) // argmax 1; per char -2.5, -1.5, -1 → 2
	if m["acc"] != 0 || m["acc_norm"] != 1 {
		t.Errorf("metrics %v", m)
	}
	// MC2: p_true / (p_true + p_false) with the labels split at the first 0.
	d = &mcDoc{labels: []int{1, 1, 0, 0}}
	lls := []float64{math.Log(0.2), math.Log(0.1), math.Log(0.3), math.Log(0.4)}
	if got := scoreMC2(d, lls)["acc"]; math.Abs(got-0.3) > 1e-12 {
		t.Errorf("mc2 = %v, want 0.3", got)
	}
	if got := probMass([]float64{-2000, -2001}, 1); math.Abs(got-1/(1+math.Exp(-1))) > 1e-12 {
		t.Errorf("probMass underflow case = %v", got)
	}
	// stderr: sample standard deviation / sqrt(n).
	var a meanAcc
	for _, v := range []float64{1, 0, 1, 1} {
		a.add(v)
	}
	if want := math.Sqrt(0.25 / 4); math.Abs(a.stderr()-want) > 1e-12 || a.mean() != 0.75 {
		t.Errorf("mean %v stderr %v, want 0.75 %v", a.mean(), a.stderr(), want)
	}
}

func TestReadDelimited(t *testing.T) {
	tsv := "index\tquestion\tsentence\tlabel\n" +
		"0\tWhat is \"x\"?\tIt is \"quoted\" inside.\tentailment\n" +
		"1\t\"Quoted\tfield with tab\"\tplain\tnot_entailment\n"
	recs, err := parseDelimited(strings.NewReader(tsv), "dev.tsv", '\t', readOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Fields["question"] != `What is "x"?` || recs[1].Fields["question"] != "Quoted\tfield with tab" || recs[1].Row != 3 {
		t.Errorf("records %+v", recs)
	}
	// Without quote handling a leading quote is text.
	recs, err = parseDelimited(strings.NewReader("a\tb\n\"x\ty\n"), "x.txt", '\t', readOptions{NoQuotes: true})
	if err != nil || recs[0].Fields["a"] != `"x` || recs[0].Fields["b"] != "y" {
		t.Errorf("no-quotes: %v %+v", err, recs)
	}
	// Wrong field counts are errors that name file and line.
	_, err = parseDelimited(strings.NewReader("a,b\n1,2\n3\n"), "f.csv", ',', readOptions{})
	if !badinput.Is(err) || !strings.Contains(err.Error(), "f.csv: line 3") {
		t.Errorf("short row: %v", err)
	}
	_, err = parseDelimited(strings.NewReader(""), "e.csv", ',', readOptions{})
	if !badinput.Is(err) {
		t.Errorf("empty file: %v", err)
	}
	recs, err = parseDelimited(strings.NewReader("q,1,2,3,4,A\n\"multi\nline\",a,b,c,d,B\n"), "s_test.csv", ',',
		readOptions{NoHeader: true, Columns: []string{"question", "A", "B", "C", "D", "answer"}})
	if err != nil || len(recs) != 2 || recs[1].Fields["question"] != "multi\nline" || recs[1].Fields["answer"] != "B" {
		t.Errorf("headerless: %v %+v", err, recs)
	}
}

func TestReadJSON(t *testing.T) {
	recs, err := parseJSONL(strings.NewReader("{\"a\": 1}\n\n{\"a\": 12345678901234}\n"), "x.jsonl")
	if err != nil || len(recs) != 2 || recs[1].Row != 3 {
		t.Fatalf("%v %+v", err, recs)
	}
	if n, _ := recs[1].integer("a"); n != 12345678901234 {
		t.Errorf("large integer read as %d", n)
	}
	for _, bad := range []string{"{\"a\": 1}\n[1]\n", "{\"a\": \n", "{} {}\n"} {
		if _, err := parseJSONL(strings.NewReader(bad), "bad.jsonl"); !badinput.Is(err) || !strings.Contains(err.Error(), "bad.jsonl: line") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	for in, n := range map[string]int{`[{"a":1},{"a":2}]`: 2, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}": 3, `{"sst2": []}`: 1} {
		recs, err := parseJSON(strings.NewReader(in), "x.json")
		if err != nil || len(recs) != n {
			t.Errorf("%q: %v, %d records, want %d", in, err, len(recs), n)
		}
	}
	if _, err := parseJSON(strings.NewReader(`[1, 2]`), "x.json"); !badinput.Is(err) {
		t.Errorf("array of numbers: %v", err)
	}
}

func TestRecordAccessors(t *testing.T) {
	r := record{File: "f.jsonl", Row: 4, Fields: map[string]any{
		"s": "text", "n": "3", "f": 2.5, "l": []any{"a", "b"}, "m": map[string]any{"x": []any{int64(1), int64(0)}}, "null": nil,
	}}
	if v, err := r.integer("n"); err != nil || v != 3 {
		t.Errorf("integer from string: %v %v", v, err)
	}
	if v, err := r.intList("m.x"); err != nil || !reflect.DeepEqual(v, []int{1, 0}) {
		t.Errorf("nested int list: %v %v", v, err)
	}
	for _, tc := range []struct {
		get  func() error
		want string
	}{
		{func() error { _, err := r.integer("f"); return err }, `column "f": is number 2.5, want an integer`},
		{func() error { _, err := r.str("missing"); return err }, `column "missing": missing (columns present: f, l, m, n, null, s)`},
		{func() error { _, err := r.str("null"); return err }, `is null`},
		{func() error { _, err := r.strList("s"); return err }, `want a list of text`},
	} {
		err := tc.get()
		if !badinput.Is(err) || !strings.Contains(err.Error(), "f.jsonl: row 4") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want it to name f.jsonl row 4 and %q", err, tc.want)
		}
	}
}

func TestDataSpecMatches(t *testing.T) {
	d := dataSpec{Split: "validation", Names: []string{"dev.tsv"}}
	for path, want := range map[string]bool{
		"x/validation.jsonl":                          true,
		"x/validation-00000-of-00002.parquet":         true,
		"x/validation-00000-of-00001-abc123.parquet":  true,
		"x/validation_matched-00000-of-00001.parquet": false,
		"x/cfg/validation/0000.parquet":               true,
		"x/dev.tsv":                                   true,
		"x/train.jsonl":                               false,
		"x/validation.lock":                           false,
		"x/.validation.jsonl":                         false,
	} {
		if got := d.matches(path); got != want {
			t.Errorf("matches(%q) = %v, want %v", path, got, want)
		}
	}
}
