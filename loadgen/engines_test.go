package loadgen

import (
	"os"
	"strings"
	"testing"
)

func TestCompatTable(t *testing.T) {
	rows := CompatTable()
	methods := []string{"gptq-w4a16", "awq-w4a16", "smoothquant-w8a8", "sparse-2:4", "sparse-dense"}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Engine+"/"+r.Method] {
			t.Errorf("%s/%s appears twice", r.Engine, r.Method)
		}
		seen[r.Engine+"/"+r.Method] = true
		if r.Note == "" {
			t.Errorf("%s/%s has no note", r.Engine, r.Method)
		}
	}
	for _, e := range []string{"vllm", "tensorrt-llm", "mlc-llm", "llama.cpp"} {
		for _, m := range methods {
			if !seen[e+"/"+m] {
				t.Errorf("no row for %s/%s", e, m)
			}
		}
	}
	for _, bad := range []struct{ name, csv, want string }{
		{"header", "a,b\n", "header"},
		{"support", "engine,method,support,note,source\nvllm,x,maybe,n,https://a\n", "support \"maybe\""},
		{"source", "engine,method,support,note,source\nvllm,x,yes,n,docs\n", "not a URL"},
		{"columns", "engine,method,support,note,source\nvllm,x,yes\n", "wrong number of fields"},
	} {
		if _, err := parseCompat(bad.csv); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v; want one saying %q", bad.name, err, bad.want)
		}
	}
}

// TestEnginesDoc holds docs/ENGINES.md's table to engines.csv.
func TestEnginesDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/ENGINES.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- compat table: begin -->\n", "<!-- compat table: end -->"
	_, rest, ok1 := strings.Cut(string(b), begin)
	table, _, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("docs/ENGINES.md has no %q … %q block", strings.TrimSpace(begin), end)
	}
	if want := CompatMarkdown(CompatTable()); table != want {
		t.Errorf("docs/ENGINES.md's table differs from engines.csv; paste:\n%s", want)
	}
}
