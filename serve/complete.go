package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) { s.complete(w, r, false) }

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) { s.complete(w, r, true) }

// chatRoles are the message roles the plain chat format accepts.
var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// ChatPrompt renders messages in the plain chat format the server uses for
// a model without a chat template: one "role: content" line per message,
// then "assistant:" for the reply (the tokenizer adds its BOS as for any
// prompt).
func ChatPrompt(messages []ChatMessage) string {
	var b strings.Builder
	for _, m := range messages {
		fmt.Fprintf(&b, "%s: %s\n", m.Role, m.Content)
	}
	b.WriteString("assistant:")
	return b.String()
}

func (s *Server) chatPrompt(msgs []ChatMessage) ([]int, *apiError) {
	if len(msgs) == 0 {
		return nil, badRequest("messages", "messages is required (a non-empty list)")
	}
	for i, m := range msgs {
		if !chatRoles[m.Role] {
			return nil, badRequest("messages", "messages[%d]: role %q is not one of system, developer, user, assistant, tool", i, m.Role)
		}
	}
	if s.cfg.Chat == nil {
		return s.tok.Encode(ChatPrompt(msgs), true), nil
	}
	text, err := s.cfg.Chat.Render(msgs)
	if err != nil {
		return nil, badRequest("messages", "%v", err)
	}
	return s.tok.Encode(text, false), nil
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, chat bool) {
	t0 := time.Now()
	var req completionRequest
	if e := s.decode(w, r, &req); e != nil {
		s.fail(w, e)
		return
	}
	var p params
	if e := s.validate(&req, &p, chat); e != nil {
		s.fail(w, e)
		return
	}
	var e *apiError
	if chat {
		var ids []int
		if ids, e = s.chatPrompt(req.Messages); e == nil {
			p.prompts = [][]int{ids}
		}
	} else {
		p.prompts, e = s.parsePrompt(req.Prompt)
	}
	if e == nil {
		e = s.checkContext(&p)
	}
	if e != nil {
		s.fail(w, e)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	choices, ch, e := s.submit(ctx, &p)
	if e != nil {
		s.fail(w, e)
		return
	}
	kind, object := "cmpl", "text_completion"
	if chat {
		kind, object = "chatcmpl", "chat.completion"
	}
	id := fmt.Sprintf("%s-%d", kind, s.nextID.Add(1))
	var st *streamer
	if p.stream {
		st = s.newStreamer(w, id, object+map[bool]string{true: ".chunk", false: ""}[chat], chat)
		if chat {
			for i := range choices {
				st.send(map[string]any{"index": i, "delta": map[string]any{"role": "assistant", "content": ""}, "logprobs": nil, "finish_reason": nil})
			}
		}
	}
	var ttft time.Duration
	for left := len(choices); left > 0; {
		var ev event
		select {
		case ev = <-ch:
		case <-ctx.Done():
			s.metrics.request(499) // client closed the request
			return
		}
		c := choices[ev.choice]
		if c.finish != "" {
			continue
		}
		if ev.err != nil {
			e := &apiError{status: http.StatusInternalServerError, typ: "internal_error", msg: ev.err.Error()}
			if ev.err == errClosed {
				e.status, e.typ, e.code = http.StatusServiceUnavailable, "service_unavailable", "shutting_down"
			}
			if st != nil {
				st.sendError(e)
				s.metrics.request(e.status)
			} else {
				s.fail(w, e)
			}
			return
		}
		if ev.token != nil && ttft == 0 {
			ttft = time.Since(t0)
		}
		delta, toks := s.apply(c, ev, p.stops)
		if c.finish != "" {
			left--
		}
		if st == nil || (delta == "" && c.finish == "" && !(p.logprobs && len(toks) > 0)) {
			continue
		}
		var finish any
		if c.finish != "" {
			finish = c.finish
		}
		if chat {
			d := map[string]any{}
			if delta != "" {
				d["content"] = delta
			}
			st.send(map[string]any{"index": ev.choice, "delta": d, "logprobs": nil, "finish_reason": finish})
		} else {
			var lp any
			if p.logprobs {
				lp = s.logprobsJSON(nil, toks, p.topN, 0)
			}
			st.send(map[string]any{"index": ev.choice, "text": delta, "logprobs": lp, "finish_reason": finish})
		}
	}
	s.metrics.observe(ttft, time.Since(t0))
	s.metrics.request(http.StatusOK)
	usage := s.usage(&p, choices)
	if st != nil {
		if p.usage {
			st.sendUsage(usage)
		}
		st.done()
		return
	}
	out := make([]map[string]any, len(choices))
	for i, c := range choices {
		if chat {
			out[i] = map[string]any{"index": i, "message": map[string]any{"role": "assistant", "content": c.text}, "logprobs": nil, "finish_reason": c.finish}
			continue
		}
		text := c.text
		var prompt []tokenLP
		if p.echo {
			prompt = c.promptLP
			text = s.tok.Decode(p.prompts[c.prompt], false) + text
		}
		var lp any
		if p.logprobs {
			lp = s.logprobsJSON(prompt, c.tokLP, p.topN, 0)
		}
		out[i] = map[string]any{"index": i, "text": text, "logprobs": lp, "finish_reason": c.finish}
	}
	writeJSON(w, map[string]any{"id": id, "object": object, "created": time.Now().Unix(), "model": s.cfg.ModelName, "choices": out, "usage": usage})
}

// usage counts prompt tokens once per prompt and every generated token.
func (s *Server) usage(p *params, choices []*choiceState) map[string]int {
	pt, ct := 0, 0
	for _, pr := range p.prompts {
		pt += len(pr)
	}
	for _, c := range choices {
		ct += len(c.ids)
	}
	return map[string]int{"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}
}

// completionLogprobs is the legacy completions logprobs object.
type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []*float64           `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// logprobsJSON lists prompt then generated tokens with their logprobs; a
// NaN logprob (the first prompt token) is null, as are its alternatives.
func (s *Server) logprobsJSON(prompt, gen []tokenLP, topN, offset int) *completionLogprobs {
	out := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []*float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, t := range append(append([]tokenLP(nil), prompt...), gen...) {
		str := s.tok.Decode([]int{t.ID}, false)
		out.Tokens = append(out.Tokens, str)
		out.TextOffset = append(out.TextOffset, offset)
		offset += len(str)
		if math.IsNaN(t.LogProb) {
			out.TokenLogprobs = append(out.TokenLogprobs, nil)
			out.TopLogprobs = append(out.TopLogprobs, nil)
			continue
		}
		lp := t.LogProb
		out.TokenLogprobs = append(out.TokenLogprobs, &lp)
		top := make(map[string]float64, topN)
		for _, a := range t.Top {
			k := s.tok.Decode([]int{a.ID}, false)
			if _, dup := top[k]; !dup {
				top[k] = a.LogProb
			}
		}
		out.TopLogprobs = append(out.TopLogprobs, top)
	}
	return out
}

// streamer writes server-sent events.
type streamer struct {
	s       *Server
	w       http.ResponseWriter
	flush   func()
	id, obj string
	chat    bool
}

func (s *Server) newStreamer(w http.ResponseWriter, id, object string, chat bool) *streamer {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	st := &streamer{s: s, w: w, id: id, obj: object, chat: chat, flush: func() {}}
	if f, ok := w.(http.Flusher); ok {
		st.flush = f.Flush
	}
	return st
}

func (st *streamer) write(v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(st.w, "data: %s\n\n", b)
	st.flush()
}

// send writes one chunk holding one choice.
func (st *streamer) send(choice map[string]any) {
	st.write(map[string]any{"id": st.id, "object": st.obj, "created": time.Now().Unix(), "model": st.s.cfg.ModelName, "choices": []any{choice}})
}

// sendUsage writes the final usage chunk (stream_options.include_usage).
func (st *streamer) sendUsage(u map[string]int) {
	st.write(map[string]any{"id": st.id, "object": st.obj, "created": time.Now().Unix(), "model": st.s.cfg.ModelName, "choices": []any{}, "usage": u})
}

// sendError writes an error event and ends the stream.
func (st *streamer) sendError(e *apiError) {
	st.write(map[string]any{"error": map[string]any{"message": e.msg, "type": e.typ, "param": nil, "code": e.code}})
	st.done()
}

func (st *streamer) done() {
	fmt.Fprint(st.w, "data: [DONE]\n\n")
	st.flush()
}
