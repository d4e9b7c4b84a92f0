package testfs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGoldenHeader: the line saying how to rewrite a golden file is added
// to a header that lacks it, once, and not to one that has it; the file
// WriteGolden writes reads back with ReadGolden.
func TestGoldenHeader(t *testing.T) {
	rw := rewriteLine("./grad")
	for _, tc := range []struct {
		name   string
		header []string
		want   []string
	}{
		{"none", nil, []string{rw}},
		{"without", []string{"about"}, []string{"about", rw}},
		{"with", []string{"about", rw}, []string{"about", rw}},
	} {
		g := Golden{File: "x", Pkg: "./grad", Header: tc.header}
		if got := g.header(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: header %q, want %q", tc.name, got, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "g.sha256")
	h1, h2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	got := map[string]string{"b/c": h2, "a": h1}
	WriteGolden(t, path, Golden{Pkg: "./grad", Header: []string{"about"}}.header(), got)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# about\n# " + rw + "\n" + h1 + "  a\n" + h2 + "  b/c\n"; string(b) != want {
		t.Errorf("golden file %q, want %q", b, want)
	}
	if back := ReadGolden(t, path); len(GoldenDiff(got, back)) != 0 {
		t.Errorf("read back %v, want %v", back, got)
	}
}
