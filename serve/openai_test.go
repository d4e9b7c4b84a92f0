package serve

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenAINodeClient drives the server with the official openai npm
// client (make openai installs it into .cache/openai): completions, chat,
// both streamed with usage, echo logprobs, and every error status.
func TestOpenAINodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (make openai installs node, npm and the openai package)")
	}
	module, _ := filepath.Abs(filepath.Join("..", ".cache", "openai", "node_modules", "openai"))
	if _, err := os.Stat(module); err != nil {
		t.Skipf("the npm package openai is not in %s (make openai installs it)", module)
	}
	f := newFixture(t, "llama3-tiny", Config{})
	q1 := newFixture(t, "llama3-tiny", Config{MaxQueue: 1})
	dr := newFixture(t, "llama3-tiny", Config{})
	dr.s.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "openai_client.cjs"), module, f.url, q1.url, dr.url, "llama3-tiny")
	b, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node client: %v\n%s", err, stderr)
	}
	var got struct {
		Completion, Chat, CompletionStream, ChatStream struct {
			Text, Finish, Role string
			Usage              map[string]float64
		}
		Echo   []*float64
		Errors map[string]json.RawMessage
	}
	t.Logf("node client: %.600s", b)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("node output %q: %v", b, err)
	}
	_, comp := post(t, f.url+"/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "ignore_eos": true})
	_, chat := post(t, f.url+"/v1/chat/completions", map[string]any{"messages": []map[string]string{{"role": "user", "content": "Say hello"}}, "max_tokens": 8, "temperature": 0, "ignore_eos": true})
	wantComp := choice(t, comp, 0)["text"].(string)
	wantChat := choice(t, chat, 0)["message"].(map[string]any)["content"].(string)
	for _, c := range []struct {
		name, text, want string
		usage            map[string]float64
	}{
		{"completion", got.Completion.Text, wantComp, got.Completion.Usage},
		{"completion stream", got.CompletionStream.Text, wantComp, got.CompletionStream.Usage},
		{"chat", got.Chat.Text, wantChat, got.Chat.Usage},
		{"chat stream", got.ChatStream.Text, wantChat, got.ChatStream.Usage},
	} {
		if c.text != c.want {
			t.Errorf("%s: client got %q, want %q", c.name, c.text, c.want)
		}
		if c.usage["completion_tokens"] != 8 || c.usage["total_tokens"] != c.usage["prompt_tokens"]+8 {
			t.Errorf("%s: usage %v, want 8 completion tokens", c.name, c.usage)
		}
	}
	if got.ChatStream.Role != "assistant" || got.ChatStream.Finish != "length" || got.CompletionStream.Finish != "length" {
		t.Errorf("streams: role %q, finishes %q %q", got.ChatStream.Role, got.ChatStream.Finish, got.CompletionStream.Finish)
	}
	_, echo := post(t, f.url+"/v1/completions", map[string]any{"prompt": "Paris is the capital of France", "max_tokens": 0, "echo": true, "logprobs": 1})
	want := choice(t, echo, 0)["logprobs"].(map[string]any)["token_logprobs"].([]any)
	if len(got.Echo) != len(want) || got.Echo[0] != nil {
		t.Fatalf("echo logprobs %v, want %d with the first null", got.Echo, len(want))
	}
	for i := 1; i < len(want); i++ {
		if got.Echo[i] == nil || math.Abs(*got.Echo[i]-want[i].(float64)) > 1e-9 {
			t.Errorf("echo logprob %d: client %v, server %v", i, got.Echo[i], want[i])
		}
	}
	for name, status := range map[string]int{"unknownModel": 404, "badMaxTokens": 400, "contextOverflow": 400, "tooLarge": 413, "overCapacity": 429, "shuttingDown": 503} {
		var e struct {
			Status     int
			Type       string
			HasMessage bool
		}
		json.Unmarshal(got.Errors[name], &e)
		if e.Status != status || e.Type == "" || !e.HasMessage {
			t.Errorf("%s: client saw %s, want status %d with an error type and message", name, got.Errors[name], status)
		}
	}
}
