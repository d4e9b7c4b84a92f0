package loadgen

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
)

func TestArrivals(t *testing.T) {
	a, b := Arrivals(200, 4, 7), Arrivals(200, 4, 7)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gives different arrivals")
	}
	if reflect.DeepEqual(a, Arrivals(200, 4, 8)) {
		t.Error("seeds 7 and 8 give the same arrivals")
	}
	if a[0] != 0 {
		t.Errorf("first arrival at %v; want 0 (vLLM sends the first request at once)", a[0])
	}
	for i := 1; i < len(a); i++ {
		if a[i] < a[i-1] {
			t.Fatalf("arrival %d (%v) before arrival %d (%v)", i, a[i], i-1, a[i-1])
		}
	}
	for _, d := range Arrivals(5, 0, 1) {
		if d != 0 {
			t.Errorf("rate 0 (all at once) gives an arrival at %v", d)
		}
	}
	// Exponential gaps: mean 1/rate and standard deviation 1/rate. With
	// 20000 gaps the sample mean's standard error is 0.7 %; 5 % is far
	// outside it for any seed.
	const n, rate = 20001, 8.0
	long := Arrivals(n, rate, 3)
	var sum, sq float64
	for i := 1; i < n; i++ {
		g := (long[i] - long[i-1]).Seconds()
		sum += g
		sq += g * g
	}
	mean := sum / (n - 1)
	sd := math.Sqrt(sq/(n-1) - mean*mean)
	if math.Abs(mean*rate-1) > 0.05 || math.Abs(sd*rate-1) > 0.05 {
		t.Errorf("gap mean %.4f s, sd %.4f s; want both ≈ %.4f s (Poisson)", mean, sd, 1/rate)
	}
}

func TestRandomPrompts(t *testing.T) {
	ids, err := RandomPrompts(10, 32, 128, FormatIDs, 50, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ids {
		if len(p.IDs) != 32 || p.InputLen != 32 || p.OutputLen != 128 {
			t.Fatalf("prompt of %d ids, input %d, output %d; want 32, 32, 128", len(p.IDs), p.InputLen, p.OutputLen)
		}
		for _, id := range p.IDs {
			if id < firstID || id >= 50 {
				t.Fatalf("id %d outside [%d, 50)", id, firstID)
			}
		}
	}
	again, _ := RandomPrompts(10, 32, 128, FormatIDs, 50, 1)
	if !reflect.DeepEqual(ids, again) {
		t.Error("the same seed gives different prompts")
	}
	text, _ := RandomPrompts(2, 5, 1, FormatText, 0, 1)
	if n := len(strings.Fields(text[0].Text)); n != 5 || text[0].IDs != nil {
		t.Errorf("text prompt %q: %d words; want 5 and no ids", text[0].Text, n)
	}
	for _, bad := range []struct {
		format string
		vocab  int
	}{{"tokens", 100}, {FormatIDs, 3}} {
		if _, err := RandomPrompts(1, 1, 1, bad.format, bad.vocab, 0); !badinput.Is(err) {
			t.Errorf("format %q vocab %d: error %v; want bad input", bad.format, bad.vocab, err)
		}
	}
}

func TestLoadDataset(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.jsonl", "{\"prompt\": \"hello there\"}\n\n{\"prompt\": \"bye\", \"output_len\": 7}\n")
	ps, err := LoadDataset(good, 3, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []Prompt{{Text: "hello there", OutputLen: 16}, {Text: "bye", OutputLen: 7}, {Text: "hello there", OutputLen: 16}}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("LoadDataset = %+v; want %+v (cycling)", ps, want)
	}
	tests := []struct{ name, text, want string }{
		{"not JSON", "{\"prompt\": \"a\"}\nnope\n", ":2: not a JSON object"},
		{"no prompt", "{\"text\": \"a\"}\n", ":1: no \"prompt\" string"},
		{"prompt not a string", "{\"prompt\": [1, 2]}\n", ":1: not a JSON object"},
		{"output_len 0", "{\"prompt\": \"a\", \"output_len\": 0}\n", "output_len 0"},
		{"empty", "\n\n", "no prompts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tt.name, " ", "_")+".jsonl", tt.text)
			_, err := LoadDataset(p, 1, 1)
			if !badinput.Is(err) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--dataset "+p) {
				t.Errorf("error %v; want bad input naming --dataset %s and saying %q", err, p, tt.want)
			}
		})
	}
	if _, err := LoadDataset(filepath.Join(dir, "missing.jsonl"), 1, 1); !badinput.Is(err) {
		t.Errorf("missing file: %v; want bad input", err)
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8000", "http://127.0.0.1:8000"},
		{"http://127.0.0.1:8000/", "http://127.0.0.1:8000"},
		{"http://host:8000/v1", "http://host:8000"},
		{"https://host/v1/", "https://host"},
		{"127.0.0.1:8000", ""},
		{"ftp://host", ""},
		{"http://", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeBaseURL(tt.in)
		if tt.want == "" {
			if !badinput.Is(err) || !strings.Contains(err.Error(), "--base-url") {
				t.Errorf("NormalizeBaseURL(%q): %v; want bad input naming --base-url", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeBaseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
