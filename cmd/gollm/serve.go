package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/llmcbench/gollm/serve"
)

func init() {
	register(command{name: "serve", summary: "serve a model over an OpenAI-compatible HTTP API with continuous batching", run: runServe})
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("serve", stderr)
	model := fs.String("model", "", "Hugging Face model folder (config.json + safetensors + tokenizer)")
	name := fs.String("name", "", "model id the API lists and requests name (default: the folder's base name)")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8000, "port to listen on (0: any free port)")
	maxSeqs := fs.Int("max-seqs", 16, "sequences running in the batch at once")
	maxQueue := fs.Int("max-queue", 256, "sequences waiting to join the batch (more get 429)")
	maxTokens := fs.Int("max-tokens", 0, "largest max_tokens a request may ask for (0: the model's context)")
	maxKV := fs.Int("max-kv-tokens", 0, "KV-cache positions the running sequences may reserve together (0: max-seqs × context)")
	maxBody := fs.Int64("max-body-bytes", 1<<20, "largest request body (more get 413)")
	random := fs.Bool("random-weights", false, "build the model from config.json alone with random weights (speed measurements)")
	seed := fs.Uint64("seed", 0, "weights seed with --random-weights")
	grace := fs.Duration("shutdown-timeout", time.Minute, "on SIGTERM, how long running requests may take to finish")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *port < 0 || *port > 65535:
		return usagef("--port %d: want 0…65535", *port)
	case *maxSeqs < 1:
		return usagef("--max-seqs %d: want ≥ 1", *maxSeqs)
	case *maxQueue < 1:
		return usagef("--max-queue %d: want ≥ 1", *maxQueue)
	case *maxTokens < 0:
		return usagef("--max-tokens %d: want ≥ 0", *maxTokens)
	case *maxKV < 0:
		return usagef("--max-kv-tokens %d: want ≥ 0", *maxKV)
	case *maxBody < 1:
		return usagef("--max-body-bytes %d: want ≥ 1", *maxBody)
	}
	m, err := loadModel(*model, cf, *random, int64(*seed))
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := loadTokenizer(*model)
	if err != nil {
		return err
	}
	chat, err := serve.LoadChatTemplate(*model)
	if err != nil {
		return fmt.Errorf("--model %s: %w", *model, err)
	}
	if chat == nil {
		fmt.Fprintf(stderr, "%s has no chat_template: chat requests use the plain format (docs/SERVE.md)\n", *model)
	}
	if *name == "" {
		*name = filepath.Base(filepath.Clean(*model))
	}
	srv, err := serve.New(m, tok, serve.Config{ModelName: *name, MaxSeqs: *maxSeqs, MaxQueue: *maxQueue, MaxTokens: *maxTokens, MaxKVTokens: *maxKV, MaxBodyBytes: *maxBody, Chat: chat})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return usagef("--host %s --port %d: %v", *host, *port, err)
	}
	url := "http://" + ln.Addr().String()
	if cf.json {
		if err := writeJSON(stdout, map[string]any{"url": url, "model": *name, "device": m.Backend.Name()}); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%s\nserving %q on %s/v1 (max %d sequences, queue %d)\n", m.Describe(), *name, url, srv.Config().MaxSeqs, srv.Config().MaxQueue)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "shutting down: refusing new requests, finishing running ones")
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
