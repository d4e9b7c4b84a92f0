package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJudgeMessage(t *testing.T) {
	cases := []struct {
		name     string
		c        Case
		wants    []string
		lines    []string
		outcome  string
		inReason string
	}{
		{"one line naming the file", Case{}, []string{"config.json"}, []string{"gollm info: --model m: config m/config.json: bad"}, outOK, ""},
		{"alternative", Case{}, []string{"config.json|config implies"}, []string{"gollm info: shape [2], config implies [3]"}, outOK, ""},
		{"bare flag name", Case{}, []string{"--seqlen"}, []string{"gollm eval: seqlen 9 exceeds the context"}, outOK, ""},
		{"flag with dashes as words", Case{}, []string{"--weight-decay"}, []string{"gollm train: weight decay -1"}, outOK, ""},
		{"does not name it", Case{}, []string{"--damp"}, []string{"gollm compress: bad input: -1 is not a fraction"}, outUnclear, "does not name"},
		{"usage dump", Case{}, []string{"bogus"}, []string{"flag provided but not defined: -bogus", "Usage of gollm x:", "  -a int", "gollm x: flag provided but not defined: -bogus"}, outUnclear, "usage dump"},
		{"progress before the error", Case{}, []string{"x"}, []string{"block 1/2 done", "gollm compress: x"}, outUnclear, "progress"},
		{"progress allowed", Case{Progress: true}, []string{"x"}, []string{"block 1/2 done", "gollm compress: x"}, outOK, ""},
		{"not a gollm line", Case{}, nil, []string{"something else"}, outUnclear, "not a gollm error"},
		{"silent", Case{}, nil, nil, outUnclear, "no message"},
		{"huge message", Case{}, nil, []string{"gollm info: " + strings.Repeat("x", 5000)}, outUnclear, "byte message"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason := judgeMessage(&c.c, c.wants, c.lines)
			if got != c.outcome || !strings.Contains(reason, c.inReason) {
				t.Errorf("judgeMessage = %s %q, want %s with %q", got, reason, c.outcome, c.inReason)
			}
		})
	}
}

func TestDiffSnap(t *testing.T) {
	before := map[string]fileState{"a": "1", "b": "2", "c": "3"}
	after := map[string]fileState{"a": "1", "b": "9", "d": "4"}
	got := diffSnap(before, after)
	if got != "changed b; deleted c" {
		t.Errorf("diffSnap = %q", got)
	}
	if d := diffSnap(before, before); d != "" {
		t.Errorf("unchanged snapshot reported %q", d)
	}
}

func TestWriteSectionKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "R.md")
	orig := "# Reliability\n\nhand-written\n\n" + beginMarker + "\nold\n" + endMarker + "\n\n## Later section\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, beginMarker+"\nnew\n"+endMarker+"\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	if !strings.Contains(s, "hand-written") || !strings.Contains(s, "## Later section") || !strings.Contains(s, "\nnew\n") || strings.Contains(s, "old") {
		t.Errorf("section not replaced in place:\n%s", s)
	}
}

func TestCasesAreWellFormed(t *testing.T) {
	cs := allCases()
	if err := checkIDs(cs); err != nil {
		t.Fatal(err)
	}
	if len(cs) < 250 {
		t.Errorf("%d cases, the issue asks for at least 250", len(cs))
	}
	for _, c := range cs {
		if c.Class == "" || c.What == "" || len(c.Args) == 0 {
			t.Errorf("%s: class, what and args are required", c.ID)
		}
		if c.code() == 2 && len(c.Want) == 0 {
			t.Errorf("%s: a bad-input case must say what its message names", c.ID)
		}
	}
}
