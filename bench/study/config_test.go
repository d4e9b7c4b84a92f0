package study

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
)

const repo = "../.."

// TestBadConfigs: every config that cannot run fails before any work with
// one line naming the file and the line of the offending entry.
func TestBadConfigs(t *testing.T) {
	model := filepath.Join(repo, "testdata/llama3-tiny")
	calib := filepath.Join(repo, "testdata/calib/c4-sample.jsonl")
	data := filepath.Join(repo, "testdata/eval")
	head := "models:\n  - " + model + "\n" // lines 1-2
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown method", head + "methods:\n  - rtn\n  - gptx\ntasks: [arc_easy]\ndata: " + data + "\n", `study.yaml:5: methods[1]: unknown method "gptx"`},
		{"bad method parameter", head + "methods:\n  - rtn:bits=11\ntasks: [arc_easy]\ndata: " + data + "\n", `study.yaml:4: methods[0]: bits=11`},
		{"unknown task", head + "tasks:\n  - arc_easy\n  - arc_medium\ndata: " + data + "\n", `study.yaml:5: tasks[1]: unknown task "arc_medium"`},
		{"missing model folder", "models:\n  - name: x\n    path: /no/such/model\ntasks: [arc_easy]\n", `study.yaml:2: models[0]: model folder /no/such/model not found`},
		{"unknown reference model", "models: [gpt5]\ntasks: [arc_easy]\n", `study.yaml:1: models[0]: model folder refmodels/gpt5 not found`},
		{"not a model folder", "models:\n  - " + data + "\ntasks: [arc_easy]\n", `study.yaml:2: models[0]: ` + data + ` is not a model folder (no config.json)`},
		{"missing data folder", head + "tasks: [arc_easy]\ndata: /no/such/data\n", `study.yaml:4: data: data folder /no/such/data not found`},
		{"task data missing", head + "tasks:\n  - {name: arc_easy, data: " + repo + "}\n", `study.yaml:4: tasks[0]: ../../arc_easy or ../../ai2_arc: task arc_easy: no test split found`},
		{"shots on a zero-shot task", head + "tasks:\n  - {name: piqa, shots: 3}\ndata: " + data + "\n", `study.yaml:4: tasks[0]: --shots 3: task piqa is zero-shot`},
		{"negative limit", head + "tasks:\n  - name: piqa\n    limit: -1\ndata: " + data + "\n", `study.yaml:5: tasks[0].limit: limit -1`},
		{"duplicate model names", head + "  - " + model + "\ntasks: [arc_easy]\ndata: " + data + "\n", `study.yaml:3: models[1]: duplicate model name "llama3-tiny"`},
		{"duplicate task", head + "tasks: [piqa, arc_easy, piqa]\ndata: " + data + "\n", `study.yaml:3: tasks[2]: duplicate task "piqa"`},
		{"duplicate method", head + "methods: [rtn, \"rtn:bits=4\"]\ntasks: [piqa]\ndata: " + data + "\n", `study.yaml:3: methods[1]: duplicate method rtn:bits=4`},
		{"calibrating method without calib", head + "methods: [gptq]\ntasks: [piqa]\ndata: " + data + "\n", `study.yaml: calib: no calibration files`},
		{"missing calib file", head + "methods: [gptq]\ncalib: [/no/calib.txt]\ntasks: [piqa]\ndata: " + data + "\n", `study.yaml:4: calib[0]: calibration file /no/calib.txt not found`},
		{"seed twice", head + "methods: [\"gptq:seed=3\"]\nseeds: [1, 2]\ncalib: [" + calib + "]\ntasks: [piqa]\ndata: " + data + "\n", `study.yaml:3: methods[0]: "gptq:seed=3" sets seed and the study lists seeds`},
		{"unknown engine", head + "tasks: [piqa]\nengines: [vllm]\ndata: " + data + "\n", `study.yaml:4: engines[0]: unknown engine "vllm"`},
		{"negative threads", head + "tasks: [piqa]\nthreads: -2\ndata: " + data + "\n", `study.yaml:4: threads: threads -2`},
		{"unknown key", head + "taskz: [piqa]\n", `study.yaml:3: unknown key taskz not found`},
		{"wrong type", head + "tasks: [piqa]\nthreads: many\n", `study.yaml:4: cannot unmarshal`},
		{"not YAML", "models: [a\n", `study.yaml:1: did not find expected`},
		{"no models", "tasks: [piqa]\n", `study.yaml: models: no models`},
		{"JSON with a bad method", `{"models": ["` + model + `"],` + "\n" + `"methods": ["gptx"], "tasks": ["piqa"], "data": "` + data + `"}`, `study.yaml:2: methods[0]: unknown method "gptx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("study.yaml", []byte(tt.yaml), ".")
			if err == nil {
				t.Fatal("accepted")
			}
			if !badinput.Is(err) || !errors.Is(err, ErrBadConfig) {
				t.Errorf("%v: not bad input", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

// TestDefaultConfigRoundTrip: --print-config parses back to the default
// study, and the default is valid from the repository root.
func TestDefaultConfigRoundTrip(t *testing.T) {
	def, err := Parse("(default config)", DefaultYAML(), repo)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(path, DefaultYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Loaded from another folder the relative paths do not resolve: the
	// error names the file and line of the first model.
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+":11: models[0]") {
		t.Errorf("default config loaded from %s: %v", dir, err)
	}
	abs, _ := filepath.Abs(repo)
	back, err := Parse(path, DefaultYAML(), abs)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Models) != len(def.Models) || len(back.Models) == 0 || len(back.Specs()) != len(def.Specs()) || len(back.Tasks) != len(def.Tasks) {
		t.Fatalf("round trip: %d models, %d specs, %d tasks", len(back.Models), len(back.Specs()), len(back.Tasks))
	}
	for i := range def.Specs() {
		if def.Specs()[i].String() != back.Specs()[i].String() {
			t.Errorf("method %d: %s vs %s", i, def.Specs()[i], back.Specs()[i])
		}
	}
	if !reflect.DeepEqual(def.Engines, []string{EngineCPU}) || def.Data != "" {
		t.Errorf("engines %v, data %q", def.Engines, def.Data)
	}
	// Groups expand into their members with the group's options.
	n := 0
	for _, tk := range def.Tasks {
		if strings.HasPrefix(tk.Name, "advglue_") && tk.Limit == 25 {
			n++
		}
	}
	if n != 6 {
		t.Errorf("advglue expanded to %d tasks", n)
	}
}

// TestSeedsMultiplyMethods: seeds run each calibrating method once per
// seed and leave the others alone.
func TestSeedsMultiplyMethods(t *testing.T) {
	y := "models: [" + filepath.Join(repo, "testdata/llama3-tiny") + "]\nmethods: [rtn, \"gptq:bits=3\"]\nseeds: [0, 5]\ncalib: [" +
		filepath.Join(repo, "testdata/calib/c4-sample.jsonl") + "]\ntasks: [piqa]\ndata: " + filepath.Join(repo, "testdata/eval") + "\n"
	c, err := Parse("s.yaml", []byte(y), ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range c.Specs() {
		got = append(got, s.Method+":"+s.Get("seed"))
	}
	want := []string{"rtn:", "gptq:0", "gptq:5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("specs %v, want %v", got, want)
	}
}
