package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/llmcbench/gollm/models"
)

// completionRequest is the body of /v1/completions and (with Messages)
// /v1/chat/completions; fields the server does not use are ignored.
type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Messages      []ChatMessage   `json:"messages"`
	MaxTokens     *int            `json:"max_tokens"`
	MaxCompletion *int            `json:"max_completion_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	Stop          json.RawMessage `json:"stop"`
	Seed          *uint64         `json:"seed"`
	N             *int            `json:"n"`
	Logprobs      json.RawMessage `json:"logprobs"`
	Echo          bool            `json:"echo"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	IgnoreEOS bool `json:"ignore_eos"`
}

// ChatMessage is one message of a chat request.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// params are a validated request.
type params struct {
	prompts   [][]int
	maxTokens int
	greedy    bool
	temp      float64
	topP      float64
	seed      uint64
	seeded    bool
	stops     []string
	n         int
	logprobs  bool
	topN      int
	echo      bool
	stream    bool
	usage     bool
	ignoreEOS bool
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any) *apiError {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(dst); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "request_too_large",
				msg: fmt.Sprintf("request body over the server's %d-byte limit", s.cfg.MaxBodyBytes)}
		}
		return badRequest("", "request body is not valid JSON: %v", err)
	}
	return nil
}

// checkModel refuses a request that names a model the server does not serve.
func (s *Server) checkModel(name string) *apiError {
	if name != "" && name != s.cfg.ModelName {
		return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: "model", code: "model_not_found",
			msg: fmt.Sprintf("the model %q does not exist; this server serves %q", name, s.cfg.ModelName)}
	}
	return nil
}

// parsePrompt accepts a string, a list of strings, a list of token ids or a
// list of lists of token ids.
func (s *Server) parsePrompt(raw json.RawMessage) ([][]int, *apiError) {
	var texts []string
	var idLists [][]int
	// Unmarshal fills what it can before a type error, so every shape is
	// tried on fresh variables.
	var one string
	var many []string
	var ids []int
	var lists [][]int
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, badRequest("prompt", "prompt is required")
	case json.Unmarshal(raw, &one) == nil:
		texts = []string{one}
	case json.Unmarshal(raw, &many) == nil:
		texts = many
	case json.Unmarshal(raw, &ids) == nil:
		idLists = [][]int{ids}
	case json.Unmarshal(raw, &lists) == nil:
		idLists = lists
	default:
		return nil, badRequest("prompt", "prompt must be a string, a list of strings, a list of token ids or a list of lists of token ids")
	}
	for _, t := range texts {
		idLists = append(idLists, s.tok.Encode(t, true))
	}
	if len(idLists) == 0 {
		return nil, badRequest("prompt", "prompt is empty")
	}
	if len(idLists) > s.cfg.MaxN {
		return nil, badRequest("prompt", "%d prompts in one request; the server takes at most %d", len(idLists), s.cfg.MaxN)
	}
	for i, p := range idLists {
		if len(p) == 0 {
			return nil, badRequest("prompt", "prompt %d has no tokens", i)
		}
		for _, id := range p {
			if id < 0 || id >= s.model.Config.Vocab {
				return nil, badRequest("prompt", "prompt %d: token id %d outside the vocabulary [0, %d)", i, id, s.model.Config.Vocab)
			}
		}
	}
	return idLists, nil
}

// validate checks everything but the prompt and fills p.
func (s *Server) validate(req *completionRequest, p *params, chat bool) *apiError {
	if e := s.checkModel(req.Model); e != nil {
		return e
	}
	p.maxTokens = 16 // the OpenAI completions default
	if chat {
		p.maxTokens = s.cfg.MaxTokens
	}
	if req.MaxCompletion != nil {
		req.MaxTokens = req.MaxCompletion
	}
	if req.MaxTokens != nil {
		p.maxTokens = *req.MaxTokens
		if p.maxTokens < 0 || p.maxTokens > s.cfg.MaxTokens {
			return badRequest("max_tokens", "max_tokens %d: want 0…%d", p.maxTokens, s.cfg.MaxTokens)
		}
	}
	p.temp, p.topP = 1, 1
	if req.Temperature != nil {
		p.temp = *req.Temperature
		if math.IsNaN(p.temp) || p.temp < 0 || p.temp > 100 {
			return badRequest("temperature", "temperature %g: want 0…100 (0 is greedy)", p.temp)
		}
	}
	p.greedy = p.temp == 0
	if req.TopP != nil {
		p.topP = *req.TopP
		if !(p.topP > 0 && p.topP <= 1) {
			return badRequest("top_p", "top_p %g: want a probability in (0, 1]", p.topP)
		}
	}
	if req.Seed != nil {
		p.seed, p.seeded = *req.Seed, true
	}
	p.n = 1
	if req.N != nil {
		p.n = *req.N
		if p.n < 1 || p.n > s.cfg.MaxN {
			return badRequest("n", "n %d: want 1…%d", p.n, s.cfg.MaxN)
		}
	}
	if len(req.Stop) > 0 && string(req.Stop) != "null" {
		var one string
		if json.Unmarshal(req.Stop, &one) == nil {
			p.stops = []string{one}
		} else if json.Unmarshal(req.Stop, &p.stops) != nil {
			return badRequest("stop", "stop must be a string or a list of strings")
		}
		if len(p.stops) > 4 {
			return badRequest("stop", "%d stop strings; at most 4", len(p.stops))
		}
		for _, st := range p.stops {
			if st == "" {
				return badRequest("stop", "an empty stop string")
			}
		}
	}
	if len(req.Logprobs) > 0 && string(req.Logprobs) != "null" {
		if chat {
			return badRequest("logprobs", "logprobs are served on /v1/completions only")
		}
		if err := json.Unmarshal(req.Logprobs, &p.topN); err != nil || p.topN < 0 || p.topN > 20 {
			return badRequest("logprobs", "logprobs must be an integer 0…20 (alternatives per token)")
		}
		p.logprobs = true
	}
	if req.Echo && chat {
		return badRequest("echo", "echo is served on /v1/completions only")
	}
	p.echo = req.Echo
	p.stream = req.Stream
	p.usage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	if p.usage && !p.stream {
		return badRequest("stream_options", "stream_options is only allowed with stream: true")
	}
	if p.echo && p.stream {
		return badRequest("echo", "echo with stream is not supported")
	}
	p.ignoreEOS = req.IgnoreEOS
	return nil
}

// checkContext refuses prompts that do not fit with max_tokens.
func (s *Server) checkContext(p *params) *apiError {
	for i, pr := range p.prompts {
		if len(pr)+p.maxTokens > s.model.Config.MaxPos {
			return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: "max_tokens", code: "context_length_exceeded",
				msg: fmt.Sprintf("prompt %d: %d prompt tokens + %d max_tokens exceed the model's context of %d tokens", i, len(pr), p.maxTokens, s.model.Config.MaxPos)}
		}
		if len(pr)+p.maxTokens > s.cfg.MaxKVTokens {
			return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: "max_tokens", code: "context_length_exceeded",
				msg: fmt.Sprintf("prompt %d: %d prompt tokens + %d max_tokens exceed the server's KV budget of %d tokens", i, len(pr), p.maxTokens, s.cfg.MaxKVTokens)}
		}
	}
	return nil
}

// choiceState is what a handler accumulates for one choice.
type choiceState struct {
	prompt   int // index of its prompt
	ids      []int
	text     string // decoded generation, cut at a stop string
	emitted  int    // bytes of text already streamed
	finish   string
	cancel   context.CancelFunc
	promptLP []tokenLP
	tokLP    []tokenLP
}

// submit queues one sequence per (prompt, choice); it returns the choices
// and the channel their events arrive on.
func (s *Server) submit(ctx context.Context, p *params) ([]*choiceState, <-chan event, *apiError) {
	if s.draining.Load() {
		return nil, nil, &apiError{status: http.StatusServiceUnavailable, typ: "service_unavailable", code: "shutting_down", msg: "the server is shutting down"}
	}
	nseq := len(p.prompts) * p.n
	if nseq > cap(s.queue)-len(s.queue) {
		return nil, nil, &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_exceeded", code: "queue_full",
			msg: fmt.Sprintf("the server is at capacity (%d sequences queued); retry later", len(s.queue))}
	}
	ch := make(chan event, nseq*(p.maxTokens+2))
	var stopIDs []int
	if !p.ignoreEOS {
		stopIDs = s.model.Config.EOS
	}
	base := p.seed
	if !p.seeded {
		base = uint64(time.Now().UnixNano())
	}
	choices := make([]*choiceState, 0, nseq)
	for pi, pr := range p.prompts {
		for j := 0; j < p.n; j++ {
			c := len(choices)
			cctx, cancel := context.WithCancel(ctx)
			choices = append(choices, &choiceState{prompt: pi, cancel: cancel})
			opt := models.GenerateOptions{Greedy: p.greedy, Temperature: p.temp, TopP: p.topP, Seed: base + uint64(c)}
			q := &seq{ctx: cctx, choice: c, prompt: pr, maxTokens: p.maxTokens, sampler: models.NewSampler(opt, s.model.Config.Vocab),
				stopIDs: stopIDs, topN: p.topN, logprobs: p.logprobs, echo: p.echo, out: ch}
			select {
			case s.queue <- q:
			default:
				for _, c := range choices {
					c.cancel()
				}
				return nil, nil, &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_exceeded", code: "queue_full",
					msg: "the server is at capacity; retry later"}
			}
		}
		s.metrics.promptTokens.Add(int64(len(pr) * p.n))
	}
	return choices, ch, nil
}

// apply folds one event into its choice and returns the text that may be
// sent now (holding back what could still become a stop string).
func (s *Server) apply(c *choiceState, ev event, stops []string) (delta string, newTokens []tokenLP) {
	if c.finish != "" {
		return "", nil
	}
	if ev.prompt != nil {
		c.promptLP = ev.prompt
	}
	if ev.token != nil {
		c.ids = append(c.ids, ev.token.ID)
		c.tokLP = append(c.tokLP, *ev.token)
		newTokens = c.tokLP[len(c.tokLP)-1:]
		c.text = s.tok.Decode(c.ids, true)
	}
	c.finish = ev.finish
	hold := 0
	for _, st := range stops {
		if i := strings.Index(c.text, st); i >= 0 {
			c.text, c.finish = c.text[:i], "stop"
		}
		hold = max(hold, len(st)-1)
	}
	if c.finish != "" {
		c.cancel()
		hold = 0
	} else if strings.HasSuffix(c.text, "\uFFFD") {
		return "", newTokens // an incomplete UTF-8 sequence: wait for its next byte
	}
	end := max(len(c.text)-hold, c.emitted)
	if end > len(c.text) {
		end = len(c.text)
	}
	delta = c.text[min(c.emitted, end):end]
	c.emitted = end
	return delta, newTokens
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	var param, code any
	if e.param != "" {
		param = e.param
	}
	if e.code != "" {
		code = e.code
	}
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": e.msg, "type": e.typ, "param": param, "code": code}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, e *apiError) {
	s.metrics.request(e.status)
	writeError(w, e)
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"object": "list", "data": []map[string]any{{
		"id": s.cfg.ModelName, "object": "model", "created": s.created, "owned_by": "gollm",
		"max_model_len": s.model.Config.MaxPos,
	}}})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, typ: "service_unavailable", code: "shutting_down", msg: "the server is shutting down"})
		return
	}
	writeJSON(w, map[string]any{"status": "ok"})
}

// decodeFor decodes the body into dst and checks the model it names
// (*model, filled by the decode); on failure it answers the error and
// returns false.
func (s *Server) decodeFor(w http.ResponseWriter, r *http.Request, dst any, model *string) bool {
	e := s.decode(w, r, dst)
	if e == nil {
		e = s.checkModel(*model)
	}
	if e != nil {
		s.fail(w, e)
		return false
	}
	return true
}

func (s *Server) handleTokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model            string `json:"model"`
		Prompt           string `json:"prompt"`
		AddSpecialTokens *bool  `json:"add_special_tokens"`
	}
	if !s.decodeFor(w, r, &req, &req.Model) {
		return
	}
	ids := s.tok.Encode(req.Prompt, req.AddSpecialTokens == nil || *req.AddSpecialTokens)
	writeJSON(w, map[string]any{"tokens": ids, "count": len(ids), "max_model_len": s.model.Config.MaxPos})
}

func (s *Server) handleDetokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string `json:"model"`
		Tokens []int  `json:"tokens"`
	}
	if !s.decodeFor(w, r, &req, &req.Model) {
		return
	}
	for _, id := range req.Tokens {
		if id < 0 || id >= s.model.Config.Vocab {
			s.fail(w, badRequest("tokens", "token id %d outside the vocabulary [0, %d)", id, s.model.Config.Vocab))
			return
		}
	}
	writeJSON(w, map[string]any{"prompt": s.tok.Decode(req.Tokens, false)})
}
