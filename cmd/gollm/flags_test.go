package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsRefusedBeforeWork holds the flag rules of generate and compress:
// meaningless or conflicting combinations and explicit values a method
// cannot honour exit 2 with one line naming the flag, and nothing is
// written (the --out folder is never created).
func TestFlagsRefusedBeforeWork(t *testing.T) {
	const model = "../../testdata/llama3-tiny"
	const calib = "../../testdata/calib/wiki.train.raw"
	out := filepath.Join(t.TempDir(), "out")
	compress := func(method string, extra ...string) []string {
		return append([]string{"compress", "--model", model, "--out", out, "--method", method}, extra...)
	}
	gen := func(extra ...string) []string {
		return append([]string{"generate", "--model", model, "--ids", "1,2", "--max-new-tokens", "2"}, extra...)
	}
	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown method lists all nine", compress("foo"), "magnitude, wanda, sparsegpt, llm-pruner, rtn, gptq, awq, smoothquant, omniquant"},
		{"sparsity with a quantizer", compress("gptq", "--sparsity", "0.5", "--calib", calib), "--sparsity does not apply to --method gptq"},
		{"bits with a pruner", compress("wanda", "--bits", "4", "--calib", calib), "--bits does not apply"},
		{"wbits with bits", compress("omniquant", "--bits", "4", "--wbits", "4", "--calib", calib), "--wbits and --bits"},
		{"sparsity 0 is not 50%", compress("magnitude", "--sparsity", "0"), "--sparsity 0"},
		{"nsamples 0 is not the default", compress("wanda", "--nsamples", "0", "--calib", calib), "--nsamples 0"},
		{"seqlen 0", compress("gptq", "--seqlen", "0", "--calib", calib), "--seqlen 0"},
		{"group-size 0", compress("rtn", "--group-size", "0"), "--group-size 0"},
		{"damp 0", compress("gptq", "--damp", "0", "--calib", calib), "--damp 0"},
		{"epochs 0", compress("omniquant", "--epochs", "0", "--calib", calib), "--epochs 0"},
		{"sparsity NaN", compress("magnitude", "--sparsity", "NaN"), "--sparsity NaN"},
		{"alpha Inf", compress("smoothquant", "--alpha", "+Inf", "--calib", calib), "--alpha +Inf"},
		{"negative seed", compress("gptq", "--seed", "-3", "--calib", calib), "--seed -3"},
		{"calib with rtn", compress("rtn", "--calib", calib), "--calib does not apply to --method rtn"},
		{"act-order with awq", compress("awq", "--act-order", "--calib", calib), "--act-order does not apply"},
		{"lora with wanda", compress("wanda", "--lora-steps", "5", "--calib", calib), "--lora-steps does not apply"},
		{"spec bad value", compress("gptq:bits=9", "--calib", calib), "bits=9: supported widths are 2 to 8"},
		{"spec unknown key", compress("gptq:colour=red", "--calib", calib), `unknown key "colour"`},
		{"spec key of another method", compress("rtn:act_order=true"), `unknown key "act_order"`},
		{"spec without key=value", compress("rtn:bits"), "want key=value"},
		{"spec and flag disagree", compress("gptq:bits=4", "--bits", "3", "--calib", calib), "--bits 3 contradicts bits=4"},
		{"spec and negated flag disagree", compress("awq:clip=true", "--no-clip", "--calib", calib), "--no-clip true contradicts clip=true"},
		{"flag value bad", compress("omniquant", "--abits", "3", "--calib", calib), "--abits 3: abits=3"},
		{"spec pattern contradicts sparsity", compress("wanda:sparsity=0.7,pattern=2:4", "--calib", calib), "contradicts pattern=2:4"},
		{"temperature NaN", gen("--temperature", "NaN"), "--temperature NaN"},
		{"temperature negative", gen("--temperature", "-1"), "--temperature -1"},
		{"top-p 2", gen("--top-p", "2"), "--top-p 2"},
		{"top-p 0", gen("--top-p", "0"), "--top-p 0"},
		{"top-k negative", gen("--top-k", "-5"), "--top-k -5"},
		{"greedy with temperature", gen("--greedy", "--temperature", "0.7"), "--temperature"},
		{"tokenize without text", []string{"tokenize", "--model", model}, "--text"},
		{"tokenize text and file", []string{"tokenize", "--model", model, "--text", "a", "--file", calib}, "--file"},
		{"tokenize missing file", []string{"tokenize", "--model", model, "--file", filepath.Join(t.TempDir(), "nope.txt")}, "--file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runBadInput(t, tc.args, true, tc.want)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("--out %s was created", out)
			}
		})
	}
}

// TestTokenizeInputs: --file and standard input give the ids --text gives.
func TestTokenizeInputs(t *testing.T) {
	const model = "../../testdata/llama3-tiny"
	text := strings.Repeat("The capital of France is Paris. ", 5000) // 160 KB: past what a --text argument should carry
	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ids := func(args ...string) []int {
		t.Helper()
		code, stdout, stderr := runCLI(append([]string{"tokenize", "--model", model, "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var o tokenizeOutput
		if err := json.Unmarshal([]byte(stdout), &o); err != nil {
			t.Fatal(err)
		}
		return o.IDs
	}
	want := ids("--text", text)
	if got := ids("--file", file); !equalInts(got, want) {
		t.Errorf("--file gives %d ids, --text %d", len(got), len(want))
	}
	old := stdin
	defer func() { stdin = old }()
	stdin = strings.NewReader(text)
	if got := ids("--file", "-"); !equalInts(got, want) {
		t.Errorf("stdin gives %d ids, --text %d", len(got), len(want))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// --method takes a spec string; the flags are sugar for its keys (agreeing
// with it is no error), and compression.json records the canonical spec.
func TestCompressMethodSpec(t *testing.T) {
	const model = "../../testdata/llama3-tiny"
	const want = "rtn:bits=8,group=16,sym=true"
	for _, args := range [][]string{
		{"--method", "rtn:bits=8,group=16,sym=true"},
		{"--method", "rtn:sym=1,group=16", "--bits", "8"},
		{"--method", "rtn:bits=8", "--bits", "8", "--group-size", "16", "--sym"},
		{"--method", "rtn", "--bits", "8", "--group-size", "16", "--sym"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		code, _, stderr := runCLI(append([]string{"compress", "--model", model, "--out", out}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "compression.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Spec string }
		if err := json.Unmarshal(b, &rec); err != nil || rec.Spec != want {
			t.Errorf("%v: recorded spec %q (%v), want %q", args, rec.Spec, err, want)
		}
	}
}

// --list-methods lists all nine methods with every parameter's type,
// default and description; --json gives the same as JSON.
func TestCompressListMethods(t *testing.T) {
	code, stdout, stderr := runCLI("compress", "--list-methods", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ms []struct {
		Name, Doc string
		Params    []struct{ Key, Type, Default, Doc string }
	}
	if err := json.Unmarshal([]byte(stdout), &ms); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
		for _, p := range m.Params {
			if p.Key == "" || p.Type == "" || p.Default == "" || p.Doc == "" {
				t.Errorf("%s: incomplete parameter %+v", m.Name, p)
			}
		}
	}
	if got := strings.Join(names, ","); got != "magnitude,wanda,sparsegpt,llm-pruner,rtn,gptq,awq,smoothquant,omniquant" {
		t.Errorf("methods %s", got)
	}
	code, stdout, _ = runCLI("compress", "--list-methods")
	if code != 0 || !strings.Contains(stdout, "act_order=false") || !strings.Contains(stdout, "--act-order") {
		t.Errorf("exit %d, text list lacks gptq's act_order:\n%s", code, stdout)
	}
}
