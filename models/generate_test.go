package models

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func TestGenerateSampling(t *testing.T) {
	m, err := Load(filepath.Join("..", "testdata", "llama3-tiny"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prompt := []int{5, 17, 99, 3}
	greedy, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxNewTokens: 10, Greedy: true})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		opt        GenerateOptions
		wantGreedy bool
	}{
		{"top-k 1 is greedy", GenerateOptions{MaxNewTokens: 10, Temperature: 1, TopP: 1, TopK: 1, Seed: 1}, true},
		{"tiny top-p is greedy", GenerateOptions{MaxNewTokens: 10, Temperature: 1, TopP: 1e-9, Seed: 2}, true},
		{"cold temperature is greedy", GenerateOptions{MaxNewTokens: 10, Temperature: 1e-4, TopP: 1, Seed: 3}, true},
		{"hot sampling differs", GenerateOptions{MaxNewTokens: 10, Temperature: 5, TopP: 1, Seed: 4}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := m.Generate(context.Background(), prompt, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			same := fmt.Sprint(r.IDs) == fmt.Sprint(greedy.IDs)
			if same != c.wantGreedy {
				t.Errorf("ids %v vs greedy %v: same=%v, want %v", r.IDs, greedy.IDs, same, c.wantGreedy)
			}
			again, _ := m.Generate(context.Background(), prompt, c.opt)
			if fmt.Sprint(again.IDs) != fmt.Sprint(r.IDs) {
				t.Errorf("same seed gave %v then %v", r.IDs, again.IDs)
			}
		})
	}
	stop := greedy.IDs[2]
	first := 0
	for greedy.IDs[first] != stop {
		first++
	}
	r, _ := m.Generate(context.Background(), prompt, GenerateOptions{MaxNewTokens: 10, Greedy: true, StopIDs: []int{stop}})
	if fmt.Sprint(r.IDs) != fmt.Sprint(greedy.IDs[:first+1]) {
		t.Errorf("stop id %d: got %v, want %v", stop, r.IDs, greedy.IDs[:first+1])
	}
	for _, bad := range []GenerateOptions{{MaxNewTokens: 1, Temperature: 0, TopP: 1}, {MaxNewTokens: 1, Temperature: 1, TopP: 0}, {MaxNewTokens: 1000, Greedy: true}} {
		if _, err := m.Generate(context.Background(), prompt, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
