// Package serve is an OpenAI-compatible HTTP server for a models.Model with
// continuous batching: one scheduler goroutine owns a models.Batch and the
// KV caches; requests join the running batch between forward steps and
// leave it when they finish or their client goes away. It serves
// /v1/models, /v1/completions (text or token-id prompts, sampling, stop,
// n, logprobs, echo with prompt logprobs), /v1/chat/completions, streaming
// as server-sent events, /health, /tokenize, /detokenize and /metrics
// (Prometheus text). docs/SERVE.md describes the API and its limits.
package serve

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmcbench/gollm/models"
)

// Codec is what the server needs of a tokenizer (*tokenizer.Tokenizer
// satisfies it).
type Codec interface {
	Encode(text string, addSpecial bool) []int
	Decode(ids []int, skipSpecial bool) string
}

// Config sets the server's name for the model and its limits; zero fields
// take the defaults New documents.
type Config struct {
	// ModelName is the id /v1/models lists and requests must name
	// (requests that name no model are served too).
	ModelName string
	// MaxSeqs caps the sequences running in the batch at once (default 16).
	MaxSeqs int
	// MaxQueue caps the sequences waiting to join the batch; a request
	// that would exceed it gets 429 (default 256).
	MaxQueue int
	// MaxTokens caps a request's max_tokens (default: the model's
	// max_position_embeddings); above it the request gets 400.
	MaxTokens int
	// MaxKVTokens caps the KV-cache positions reserved by the running
	// sequences together (prompt + max_tokens each; default MaxSeqs ×
	// max_position_embeddings); a sequence waits in the queue until it fits.
	MaxKVTokens int
	// MaxBodyBytes caps a request body; larger bodies get 413 (default 1 MiB).
	MaxBodyBytes int64
	// Chat renders chat requests' messages; nil: the plain format of
	// ChatPrompt.
	Chat *ChatTemplate
	// MaxN caps a request's choices per prompt (n) and prompts per request
	// (default 16 each).
	MaxN int
}

var errClosed = errors.New("server shutting down")

// Server serves one model. Handler returns its routes; Drain and Close
// end it.
type Server struct {
	model *models.Model
	tok   Codec
	cfg   Config

	queue    chan *seq
	stop     chan struct{}
	done     chan struct{}
	draining atomic.Bool
	closing  sync.Once
	nextID   atomic.Int64
	created  int64
	metrics  metrics
}

// New starts a server for m (whose text tok encodes and decodes) with its
// scheduler goroutine; Close stops it.
func New(m *models.Model, tok Codec, cfg Config) (*Server, error) {
	if m == nil || tok == nil {
		return nil, errors.New("serve: a model and a tokenizer are needed")
	}
	if cfg.ModelName == "" {
		cfg.ModelName = "gollm"
	}
	if cfg.MaxSeqs <= 0 {
		cfg.MaxSeqs = 16
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 256
	}
	if cfg.MaxTokens <= 0 || cfg.MaxTokens > m.Config.MaxPos {
		cfg.MaxTokens = m.Config.MaxPos
	}
	if cfg.MaxKVTokens <= 0 {
		cfg.MaxKVTokens = cfg.MaxSeqs * m.Config.MaxPos
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxN <= 0 {
		cfg.MaxN = 16
	}
	s := &Server{
		model: m, tok: tok, cfg: cfg,
		queue: make(chan *seq, cfg.MaxQueue),
		stop:  make(chan struct{}), done: make(chan struct{}),
		created: time.Now().Unix(),
	}
	go s.loop()
	return s, nil
}

// Config returns the server's configuration with defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Drain makes the server refuse new requests (503) while the running ones
// finish; pair it with http.Server.Shutdown, then Close.
func (s *Server) Drain() { s.draining.Store(true) }

// Close stops the scheduler: sequences still running end with an error.
// It waits for the scheduler goroutine to exit.
func (s *Server) Close() {
	s.Drain()
	s.closing.Do(func() { close(s.stop) })
	<-s.done
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("POST /v1/completions", s.handleCompletions)
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("POST /tokenize", s.handleTokenize)
	mux.HandleFunc("POST /detokenize", s.handleDetokenize)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "not_found",
			msg: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// apiError is an OpenAI-style error: {"error": {message, type, param, code}}
// sent with status.
type apiError struct {
	status          int
	msg, typ, param string
	code            string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, msg: fmt.Sprintf(format, args...)}
}
