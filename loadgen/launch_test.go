package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/internal/badinput"
)

// fakeEngineEnv makes the test binary act as an engine (see TestMain):
// "serve" prints its URL and serves /health and /v1/models until SIGTERM;
// "crash" writes an error line and exits 1 before listening.
const fakeEngineEnv = "GOLLM_LOADGEN_FAKE_ENGINE"

func TestMain(m *testing.M) {
	switch os.Getenv(fakeEngineEnv) {
	case "serve":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(1)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
		fmt.Printf("{\"url\": \"http://%s\", \"model\": \"fake\"}\n", ln.Addr())
		http.Serve(ln, mux) // until the harness's SIGTERM ends the process
		os.Exit(0)
	case "crash":
		fmt.Fprintln(os.Stderr, "fake engine: cannot load the model")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestEngineCommand(t *testing.T) {
	dir := t.TempDir()
	gguf := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(gguf, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		l       Launch
		want    string // in the command line, or in the error
		badFlag bool
	}{
		{"gollm", Launch{Engine: EngineGollm, Model: dir, Gollm: "/bin/gollm", Parallel: 4, Threads: 2}, "/bin/gollm serve --model " + dir + " --name " + filepath.Base(dir) + " --host 127.0.0.1 --port 0 --json --max-seqs 4 --threads 2", false},
		{"gollm needs a folder", Launch{Engine: EngineGollm, Model: gguf}, "not a checkpoint folder", true},
		{"llamacpp needs a file", Launch{Engine: EngineLlamaCpp, Model: dir}, "not a GGUF file", true},
		{"unknown engine", Launch{Engine: "vllm", Model: dir}, `--engine "vllm"`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			argv, _, err := EngineCommand(c.l)
			if c.badFlag {
				if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %v: want bad input containing %q", err, c.want)
				}
				return
			}
			if err != nil || strings.Join(argv, " ") != c.want {
				t.Errorf("command %q (%v), want %q", strings.Join(argv, " "), err, c.want)
			}
		})
	}
	t.Run("llamacpp not installed", func(t *testing.T) {
		t.Setenv("LLAMACPP_DIR", t.TempDir())
		_, _, err := EngineCommand(Launch{Engine: EngineLlamaCpp, Model: gguf})
		if !errors.Is(err, ErrNotInstalled) {
			t.Errorf("error %v: want ErrNotInstalled", err)
		}
	})
}

// TestStartStop starts the test binary as a fake engine: Start returns
// once /health answers, Stop ends the process; an engine that exits
// before listening is an error carrying its last stderr line.
func TestStartStop(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeEngineEnv, "serve")
	s, err := Start(context.Background(), Launch{Engine: EngineGollm, Model: t.TempDir(), Gollm: exe, StartTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if s.Model != "fake" || s.Label != LabelGollmServe || !strings.HasPrefix(s.BaseURL, "http://127.0.0.1:") {
		t.Errorf("server %+v: want model fake, label %s, a loopback URL", s, LabelGollmServe)
	}
	resp, err := http.Get(s.BaseURL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.Stop()
	select {
	case <-s.exited:
	default:
		t.Fatal("the engine still runs after Stop")
	}
	if _, err := http.Get(s.BaseURL + "/health"); err == nil {
		t.Error("the engine still answers after Stop")
	}

	t.Setenv(fakeEngineEnv, "crash")
	_, err = Start(context.Background(), Launch{Engine: EngineGollm, Model: t.TempDir(), Gollm: exe, StartTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "exited before listening: fake engine: cannot load the model") {
		t.Errorf("error %v: want the crash and its stderr line", err)
	}
}
