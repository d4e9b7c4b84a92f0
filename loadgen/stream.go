package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxLine is the longest SSE line loadgen reads; a longer one fails the
// request rather than growing without bound.
const maxLine = 1 << 20

// completionRequest is the body of a streaming POST /v1/completions, as
// vllm bench serve sends it.
type completionRequest struct {
	Model         string         `json:"model"`
	Prompt        any            `json:"prompt"`
	MaxTokens     int            `json:"max_tokens"`
	Temperature   float64        `json:"temperature"`
	Stream        bool           `json:"stream"`
	StreamOptions map[string]any `json:"stream_options"`
	IgnoreEOS     bool           `json:"ignore_eos,omitempty"`
}

// chunk is what loadgen reads of one streamed completion chunk.
type chunk struct {
	Choices []struct {
		Text string `json:"text"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// send streams one completion and records its timeline with clock. It
// never returns an error: a failure is the Outcome's Err, an interrupt its
// Cancelled.
func send(ctx context.Context, client *http.Client, clock func() time.Time, url, model string, p Prompt, ignoreEOS bool) Outcome {
	o := Outcome{InputLen: p.InputLen}
	var prompt any = p.Text
	if p.IDs != nil {
		prompt = p.IDs
	}
	body, err := json.Marshal(completionRequest{Model: model, Prompt: prompt, MaxTokens: p.OutputLen, Stream: true,
		StreamOptions: map[string]any{"include_usage": true}, IgnoreEOS: ignoreEOS})
	if err != nil {
		o.Err = err.Error()
		return o
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		o.Err = err.Error()
		return o
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	o.Start = clock()
	resp, err := client.Do(req)
	if err != nil {
		o.fail(ctx, err)
		return o
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		o.Err = httpError(resp)
		return o
	}
	if err := readStream(resp.Body, clock, &o); err != nil {
		o.fail(ctx, err)
	}
	return o
}

// fail records err, or the interrupt that caused it.
func (o *Outcome) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		o.Cancelled = true
		return
	}
	o.Err = err.Error()
}

// httpError is the one-line failure of a response that is not 200: the
// status and the OpenAI error message when the body has one.
func httpError(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e chunk
	if json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Message != "" {
		return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, e.Error.Message)
	}
	return fmt.Sprintf("HTTP %d", resp.StatusCode)
}

// readStream reads server-sent events until data: [DONE], recording the
// arrival of every chunk with a choice and the usage chunk's counts. A
// stream that ends before [DONE], a data line that is not a JSON chunk, or
// a chunk carrying an error fails the request. SSE comment lines (":") and
// the event, id and retry fields are skipped.
func readStream(r io.Reader, clock func() time.Time, o *Outcome) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if err == io.EOF {
			return errors.New("stream ended before data: [DONE]")
		}
		if err != nil {
			return err
		}
		if line == "" || strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
		case "event", "id", "retry":
			continue
		default:
			return fmt.Errorf("malformed SSE line %q", clip(line))
		}
		if value == "[DONE]" {
			return nil
		}
		var c chunk
		if err := json.Unmarshal([]byte(value), &c); err != nil {
			return fmt.Errorf("malformed SSE chunk %q: %v", clip(value), err)
		}
		if c.Error != nil {
			return fmt.Errorf("server error in stream: %s", c.Error.Message)
		}
		if len(c.Choices) > 0 {
			o.Chunks = append(o.Chunks, clock())
		}
		if c.Usage != nil {
			o.PromptTokens, o.CompletionTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
	}
}

// readLine reads one line without its line ending, failing on a line
// longer than maxLine.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				return string(b), nil
			}
			return "", err
		}
		b = append(b, part...)
		if len(b) > maxLine {
			return "", fmt.Errorf("SSE line longer than %d bytes", maxLine)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
