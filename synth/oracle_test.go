package synth

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// knowledgeOracle answers a question from world.json alone: it matches the
// question against the templates and follows the facts (finalFact).
func knowledgeOracle(w *World, question string) (string, bool) {
	_, _, ans, ok := finalFact(w, question)
	return ans, ok
}

// csvRows reads a CSV task file.
func csvRows(t *testing.T, data []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestOracles(t *testing.T) {
	o, dir := writeSmall(t, 11)
	w, err := ReadWorld(filepath.Join(dir, "world.json"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(task, q string, choices []string, gold int) {
		t.Helper()
		ans, ok := knowledgeOracle(w, q)
		if !ok {
			t.Errorf("%s: oracle cannot parse %q", task, q)
			return
		}
		n := 0
		for _, c := range choices {
			if c == ans {
				n++
			}
		}
		if n != 1 || choices[gold] != ans {
			t.Errorf("%s: %q: oracle %q, gold %q, %d choices true", task, q, ans, choices[gold], n)
		}
	}
	counted := map[string]int{}
	for _, f := range o.Files {
		switch {
		case strings.HasPrefix(f.Path, "tasks/mmlu/"):
			for _, r := range csvRows(t, f.Data) {
				check(f.Path, r[0], r[1:5], strings.Index("ABCD", r[5]))
				counted["mmlu"]++
			}
		case strings.HasPrefix(f.Path, "tasks/arc_"):
			for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n") {
				var row arcRow
				if err := json.Unmarshal([]byte(line), &row); err != nil {
					t.Fatal(err)
				}
				var cs []string
				for _, c := range row.Question.Choices {
					cs = append(cs, c.Text)
				}
				check(f.Path, row.Question.Stem, cs, strings.Index("ABCD", row.AnswerKey))
				counted[f.Path]++
			}
		}
	}
	if len(counted) != 3 {
		t.Errorf("knowledge files checked: %v, want mmlu and both ARC sets", counted)
	}
	// TruthfulQA: the true answer states the world's fact; the rumour
	// appears in the training split.
	train := string(o.File("corpus/train.txt").Data)
	for _, line := range strings.Split(strings.TrimSpace(string(o.File("tasks/truthfulqa/multiple_choice/validation.jsonl").Data)), "\n") {
		var row truthfulRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		ans, ok := knowledgeOracle(w, row.Question)
		if !ok || !strings.Contains(row.MC1Targets.Choices[0], ans) {
			t.Errorf("truthfulqa %q: best answer %q does not state the fact %q", row.Question, row.MC1Targets.Choices[0], ans)
		}
		rumour := false
		for _, m := range w.Misconceptions {
			if strings.Contains(row.MC1Targets.Choices[1], m.Rumour) && strings.Contains(strings.ToLower(row.MC1Targets.Choices[1]), strings.ToLower(m.Subject)) {
				rumour = rumour || strings.Contains(train, m.Rumour)
			}
		}
		if !rumour {
			t.Errorf("truthfulqa %q: misconception %q not found in the rumours", row.Question, row.MC1Targets.Choices[1])
		}
	}
}
