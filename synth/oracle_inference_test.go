package synth

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func jsonRows[T any](t *testing.T, data []byte) []T {
	t.Helper()
	var out []T
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestInferenceOracles answers piqa, winogrande and hellaswag from each
// item's text and the world's general rules only (no entity facts).
func TestInferenceOracles(t *testing.T) {
	o, err := Generate(small(13))
	if err != nil {
		t.Fatal(err)
	}
	ru := &o.World.Rules
	materialIn := func(s string) string {
		for _, m := range ru.Materials {
			if regexp.MustCompile(`\b` + m + `\b`).MatchString(s) {
				return m
			}
		}
		return ""
	}
	labels := strings.Fields(string(o.File("tasks/piqa/valid-labels.lst").Data))
	for i, row := range jsonRows[piqaRow](t, o.File("tasks/piqa/valid.jsonl").Data) {
		var g *Goal
		for j := range ru.Goals {
			if ru.Goals[j].Goal == row.Goal {
				g = &ru.Goals[j]
			}
		}
		if g == nil {
			t.Fatalf("piqa %d: unknown goal %q", i, row.Goal)
		}
		has1, _ := ru.PropertyOf(materialIn(row.Sol1), g.Property)
		got := "1"
		if has1 == g.Want {
			got = "0"
		}
		if got != labels[i] {
			t.Errorf("piqa %d: oracle %s, label %s", i, got, labels[i])
		}
	}
	wino := regexp.MustCompile(`^(\w+) has a (.+) made of (\w+) and (\w+) has a .+ made of (\w+)\. When both .+ (fall into the lake|are thrown into the fire|fall off the table|are left out in the summer sun|are left out in the rain), the .+ owned by _ (.+)\.$`)
	for i, row := range jsonRows[winoRow](t, o.File("tasks/winogrande/dev.jsonl").Data) {
		m := wino.FindStringSubmatch(row.Sentence)
		if m == nil {
			t.Fatalf("winogrande %d: cannot parse %q", i, row.Sentence)
		}
		got := ""
		for _, p := range ru.Properties {
			if p.Situation != m[6] {
				continue
			}
			want := m[7] == p.OutcomePos
			if h, _ := ru.PropertyOf(m[3], p.Name); h == want {
				got = "1"
			} else {
				got = "2"
			}
		}
		if got != row.Answer {
			t.Errorf("winogrande %d: oracle %q, answer %q", i, got, row.Answer)
		}
	}
	for i, row := range jsonRows[hellaRow](t, o.File("tasks/hellaswag/hellaswag_val.jsonl").Data) {
		want := ""
		for _, s := range ru.Scripts {
			for k, e := range s.Events[:len(s.Events)-1] {
				if strings.HasSuffix(row.CtxA, " "+e) {
					want = s.Events[k+1]
				}
			}
		}
		n := 0
		for _, e := range row.Endings {
			if e == want {
				n++
			}
		}
		if want == "" || n != 1 || row.Endings[row.Label] != want {
			t.Errorf("hellaswag %d: oracle %q, gold %q", i, want, row.Endings[row.Label])
		}
	}
}
