package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/llmcbench/gollm/internal/badinput"
)

// The engines loadgen starts itself (--engine): gollm serve, and llama.cpp
// through the npm package node-llama-cpp driven by
// scripts/llamacpp/serve.mjs.
const (
	EngineGollm    = "gollm"
	EngineLlamaCpp = "llamacpp"
)

// Engine labels of the runs of a started engine (Result.Engine, the
// Track-5 cells' engine): gollm's server, and llama.cpp as engines.csv
// names it.
const (
	LabelGollmServe = "gollm-serve"
	LabelLlamaCpp   = "llama.cpp"
)

// ErrNotInstalled marks an engine whose software is missing on this
// machine (Node or node-llama-cpp for llama.cpp): a study records the
// engine as not installed instead of a number.
var ErrNotInstalled = errors.New("not installed")

// Launch says how to start an engine.
type Launch struct {
	// Engine is EngineGollm or EngineLlamaCpp.
	Engine string
	// Model is what the engine loads: a gollm checkpoint folder, or a
	// GGUF file for llama.cpp.
	Model string
	// Name is the model's served name (default: Model's base name).
	Name string
	// Parallel is the sequences the engine runs at once (gollm serve
	// --max-seqs, serve.mjs --parallel; default 16).
	Parallel int
	// Context is each sequence's context in tokens for llama.cpp
	// (serve.mjs --ctx; default 512). gollm serve reserves each request's
	// prompt + max_tokens.
	Context int
	// Threads is the engine's compute threads (0: its default).
	Threads int
	// Gollm is the gollm executable (default: os.Executable()).
	Gollm string
	// Root is the repository root holding scripts/llamacpp/serve.mjs and
	// .cache/llamacpp (default: found upwards from the working directory,
	// then from the executable's folder).
	Root string
	// Log receives the engine's stderr (nil: discarded).
	Log io.Writer
	// StartTimeout bounds loading the model until /health answers 200
	// (default 5 minutes).
	StartTimeout time.Duration
}

// Server is an engine started by Start; Stop ends it.
type Server struct {
	// BaseURL is the server's root (http://127.0.0.1:PORT).
	BaseURL string
	// Model is the served model name.
	Model string
	// Label is the engine label of its runs (LabelGollmServe, LabelLlamaCpp).
	Label string
	// Command is the command line that started it, recorded with the run.
	Command []string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// EngineCommand returns the command line that starts l's engine on a free
// loopback port, printing a JSON object {"url": …} on stdout once it
// listens. A missing Node, script or node-llama-cpp is ErrNotInstalled; a
// bad engine name or model path is bad input.
func EngineCommand(l Launch) (argv []string, label string, err error) {
	if l.Parallel <= 0 {
		l.Parallel = 16
	}
	if l.Context <= 0 {
		l.Context = 512
	}
	if l.Name == "" {
		l.Name = filepath.Base(filepath.Clean(l.Model))
	}
	st, statErr := os.Stat(l.Model)
	switch l.Engine {
	case EngineGollm:
		if statErr != nil || !st.IsDir() {
			return nil, "", badinput.Errorf("--model %s: not a checkpoint folder (--engine gollm serves a gollm or Hugging Face folder)", l.Model)
		}
		exe := l.Gollm
		if exe == "" {
			if exe, err = os.Executable(); err != nil {
				return nil, "", err
			}
		}
		argv = []string{exe, "serve", "--model", l.Model, "--name", l.Name, "--host", "127.0.0.1", "--port", "0", "--json",
			"--max-seqs", strconv.Itoa(l.Parallel)}
		if l.Threads > 0 {
			argv = append(argv, "--threads", strconv.Itoa(l.Threads))
		}
		return argv, LabelGollmServe, nil
	case EngineLlamaCpp:
		if statErr != nil || st.IsDir() {
			return nil, "", badinput.Errorf("--model %s: not a GGUF file (--engine llamacpp loads gollm export --format gguf's output)", l.Model)
		}
		node, script, err := LlamaCpp(l.Root)
		if err != nil {
			return nil, "", err
		}
		argv = []string{node, script, "--model", l.Model, "--name", l.Name, "--host", "127.0.0.1", "--port", "0",
			"--parallel", strconv.Itoa(l.Parallel), "--ctx", strconv.Itoa(l.Context)}
		if l.Threads > 0 {
			argv = append(argv, "--threads", strconv.Itoa(l.Threads))
		}
		return argv, LabelLlamaCpp, nil
	}
	return nil, "", badinput.Errorf("--engine %q: want %s or %s", l.Engine, EngineGollm, EngineLlamaCpp)
}

// LlamaCpp finds node, scripts/llamacpp/serve.mjs and the npm package
// node-llama-cpp ($LLAMACPP_DIR, else ROOT/.cache/llamacpp, where make
// llamacpp installs it). root "" is found upwards from the working
// directory, then from the executable's folder. Anything missing is
// ErrNotInstalled with what to do.
func LlamaCpp(root string) (node, script string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("llama.cpp: %w: no node on PATH (make llamacpp installs Node and node-llama-cpp)", ErrNotInstalled)
	}
	if root == "" {
		root = findRoot()
	}
	if root == "" {
		return "", "", fmt.Errorf("llama.cpp: %w: scripts/llamacpp/serve.mjs not found above the working directory or the gollm executable (run from the gollm repository)", ErrNotInstalled)
	}
	script = filepath.Join(root, "scripts", "llamacpp", "serve.mjs")
	dir := os.Getenv("LLAMACPP_DIR")
	if dir == "" {
		dir = filepath.Join(root, ".cache", "llamacpp")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-llama-cpp", "package.json")); err != nil {
		return "", "", fmt.Errorf("llama.cpp: %w: the npm package node-llama-cpp is not in %s (make llamacpp installs it)", ErrNotInstalled, dir)
	}
	return node, script, nil
}

// findRoot is the first folder holding scripts/llamacpp/serve.mjs upwards
// from the working directory, then from the executable's folder ("" if
// none).
func findRoot() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "scripts", "llamacpp", "serve.mjs")); err == nil {
				return dir
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
	}
	return ""
}

// Start starts l's engine (EngineCommand), reads the URL it prints and
// waits until its /health answers 200. The engine is stopped when ctx ends
// or Stop is called; if it exits before it is ready, the error holds the
// last line it wrote on stderr.
func Start(ctx context.Context, l Launch) (*Server, error) {
	argv, label, err := EngineCommand(l)
	if err != nil {
		return nil, err
	}
	timeout := l.StartTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	tail := &lastLineWriter{w: l.Log}
	cmd.Stderr = tail
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], err)
	}
	s := &Server{Label: label, Command: argv, cmd: cmd, exited: make(chan struct{})}
	type hello struct {
		URL   string `json:"url"`
		Model string `json:"model"`
	}
	first := make(chan hello, 1)
	go func() {
		var h hello
		json.NewDecoder(stdout).Decode(&h) // the first JSON value: gollm serve --json indents it
		first <- h
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	fail := func(why string) (*Server, error) {
		s.Stop()
		if line := tail.last(); line != "" {
			why += ": " + line
		}
		return nil, fmt.Errorf("%s engine (%s): %s", l.Engine, strings.Join(argv, " "), why)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var h hello
	select {
	case h = <-first:
	case <-s.exited:
		return fail("exited before listening")
	case <-deadline.C:
		return fail(fmt.Sprintf("did not listen within %v", timeout))
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	if !strings.HasPrefix(h.URL, "http://") {
		select { // stdout closed: the engine is exiting
		case <-s.exited:
			return fail("exited before listening")
		case <-time.After(5 * time.Second):
		}
		return fail("did not print its URL")
	}
	s.BaseURL, s.Model = h.URL, h.Model
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		resp, err := client.Get(s.BaseURL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-s.exited:
			return fail("exited while loading")
		case <-deadline.C:
			return fail(fmt.Sprintf("/health did not answer 200 within %v", timeout))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.exited:
		}
	}()
	return s, nil
}

// Stop ends the engine: SIGTERM (both servers finish or abort their
// streams and exit), then a kill if it has not exited within 15 s. It
// returns once the process is gone.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// lastLineWriter forwards to w (if any) and keeps the last non-empty line
// written, for an engine's error message.
type lastLineWriter struct {
	w    io.Writer
	mu   sync.Mutex
	line string
	part []byte
}

func (l *lastLineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		l.w.Write(p)
	}
	l.part = append(l.part, p...)
	for {
		i := strings.IndexByte(string(l.part), '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.part[:i])); line != "" {
			l.line = line
		}
		l.part = l.part[i+1:]
	}
	if len(l.part) > 4096 {
		l.part = l.part[len(l.part)-4096:]
	}
	return len(p), nil
}

func (l *lastLineWriter) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if line := strings.TrimSpace(string(l.part)); line != "" {
		return line
	}
	return l.line
}
