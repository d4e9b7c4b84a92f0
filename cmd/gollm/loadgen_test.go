package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/loadgen"
)

// completionsServer streams max_tokens one-token chunks, a usage chunk and
// [DONE], as an OpenAI-compatible server does.
func completionsServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"tiny","owned_by":"fake"}]}`)
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			MaxTokens int `json:"max_tokens"`
			Prompt    any `json:"prompt"`
		}
		if json.NewDecoder(r.Body).Decode(&req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ids, _ := req.Prompt.([]any)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < req.MaxTokens; i++ {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"text\":\" x\"}]}\n\n")
		}
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", len(ids), req.MaxTokens)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestLoadgenBadFlags(t *testing.T) {
	s := completionsServer(t)
	lg := func(extra ...string) []string {
		return append([]string{"loadgen", "--base-url", s.URL, "--model", "tiny"}, extra...)
	}
	notStudy := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no base url", []string{"loadgen", "--model", "tiny"}, "--base-url"},
		{"bad base url", []string{"loadgen", "--base-url", "localhost:8000", "--model", "tiny"}, "--base-url \"localhost:8000\""},
		{"no model", []string{"loadgen", "--base-url", s.URL}, "--model"},
		{"num-prompts 0", lg("--num-prompts", "0"), "--num-prompts 0"},
		{"input-len 0", lg("--input-len", "0"), "--input-len 0"},
		{"output-len -1", lg("--output-len", "-1"), "--output-len -1"},
		{"negative concurrency", lg("--concurrency", "-2"), "--concurrency -2"},
		{"negative rate", lg("--request-rate", "-1"), "--request-rate -1"},
		{"NaN rate", lg("--request-rate", "NaN"), "--request-rate NaN"},
		{"negative seed", lg("--seed", "-1"), "--seed -1"},
		{"prompt format", lg("--prompt-format", "tokens"), "--prompt-format \"tokens\""},
		{"vocab too small", lg("--vocab-size", "2"), "--vocab-size 2"},
		{"missing dataset", lg("--dataset", filepath.Join(notStudy, "none.jsonl")), "--dataset"},
		{"unknown method", lg("--method", "foo"), "--method \"foo\""},
		{"not a study", lg("--study", notStudy), "--study " + notStudy},
		{"out folder missing", lg("--out", filepath.Join(notStudy, "no", "r.json")), "--out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runBadInput(t, c.args, true, c.want) })
	}
}

func TestLoadgenServerDown(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	url := s.URL
	s.Close()
	code, stdout, stderr := runCLI("loadgen", "--base-url", url, "--model", "tiny", "--num-prompts", "1")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || stdout != "" || len(lines) != 1 || !strings.Contains(stderr, loadgen.ErrServerDown.Error()) || !strings.Contains(stderr, url) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and one line naming %s as not reachable", code, stdout, stderr, url)
	}
}

// TestLoadgenRun runs the command against a fake server with --json,
// --out and --study: all three hold the same run, and the study gets a
// speed cell.
func TestLoadgenRun(t *testing.T) {
	s := completionsServer(t)
	dir := t.TempDir()
	study := filepath.Join(dir, "study")
	if err := os.Mkdir(study, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(study, bench.StudyFileName), []byte(`{"gollm_version":"devel"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.json")
	code, stdout, stderr := runCLI("loadgen", "--base-url", s.URL+"/v1", "--model", "tiny", "--num-prompts", "5", "--input-len", "6",
		"--output-len", "3", "--concurrency", "2", "--json", "--out", out, "--study", study, "--method", "rtn:bits=4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res loadgen.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not a result: %v", err)
	}
	m := res.Metrics
	if m.Completed != 5 || m.Failed != 0 || m.TotalInputTokens != 30 || m.TotalOutputTokens != 15 || res.Engine != "fake" || res.Config.BaseURL != s.URL {
		t.Errorf("result %+v engine %q base %q; want 5 completed, 30 in, 15 out, engine fake, base %s", m, res.Engine, res.Config.BaseURL, s.URL)
	}
	b, err := os.ReadFile(out)
	if err != nil || !json.Valid(b) || !strings.Contains(string(b), `"completed": 5`) {
		t.Errorf("--out file: %v, %.200s", err, b)
	}
	cells, _ := filepath.Glob(filepath.Join(study, bench.CellsDir, "*.json"))
	if len(cells) != 1 {
		t.Fatalf("study cells %v; want one", cells)
	}
	var c bench.Cell
	b, _ = os.ReadFile(cells[0])
	if err := json.Unmarshal(b, &c); err != nil || c.Kind != bench.KindSpeed || !strings.HasPrefix(c.Method, "rtn:") || c.Metrics["decode_tokens_per_second"] <= 0 {
		t.Errorf("cell %s: kind %q method %q metrics %v (%v)", cells[0], c.Kind, c.Method, c.Metrics, err)
	}
}

// TestLoadgenAllFailed: a server that refuses every request is a runtime
// failure (exit 1) naming its error, after the report.
func TestLoadgenAllFailed(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data":[{"id":"tiny","owned_by":"fake"}]}`)
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"token id out of range","type":"invalid_request_error"}}`)
	})
	s := httptest.NewServer(mux)
	defer s.Close()
	code, stdout, stderr := runCLI("loadgen", "--base-url", s.URL, "--model", "tiny", "--num-prompts", "3")
	if code != 1 || !strings.Contains(stdout, "Failed requests:                         3") || !strings.Contains(stderr, "no request completed: 3 failed (HTTP 400: token id out of range)") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, 3 failed, and the server's error", code, stdout, stderr)
	}
}
