package serve

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tokenizer"
)

// llama3Template is the shape of Llama 3's chat template.
const llama3Template = `{{- bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}`

func writeTokenizerConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if body != "" {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadChatTemplate(t *testing.T) {
	msgs := []ChatMessage{{"system", "Be brief."}, {"user", " Hi there "}}
	const rendered = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	tmplJSON := `"` + jsonEscape(llama3Template) + `"`
	cases := []struct {
		name    string
		config  string
		want    string // rendered; "" with wantNil
		wantNil bool
		wantErr bool
	}{
		{"no file", "", "", true, false},
		{"no chat_template", `{"bos_token": "<s>"}`, "", true, false},
		{"string template", `{"bos_token": "<|begin_of_text|>", "chat_template": ` + tmplJSON + `}`, rendered, false, false},
		{"AddedToken bos and named templates", `{"bos_token": {"content": "<|begin_of_text|>"}, "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": ` + tmplJSON + `}]}`, rendered, false, false},
		{"no default among named", `{"chat_template": [{"name": "tool_use", "template": "x"}]}`, "", false, true},
		{"template of wrong type", `{"chat_template": 3}`, "", false, true},
		{"template that does not parse", `{"chat_template": "{% for m in messages %}"}`, "", false, true},
		{"not JSON", `{"chat_template": `, "", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct, err := LoadChatTemplate(writeTokenizerConfig(t, c.config))
			if c.wantErr {
				if err == nil || !errors.Is(err, badinput.ErrBadInput) {
					t.Fatalf("error %v, want bad input", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (ct == nil) != c.wantNil {
				t.Fatalf("template %v, want nil %v", ct, c.wantNil)
			}
			if ct == nil {
				return
			}
			got, err := ct.Render(msgs)
			if err != nil || got != c.want {
				t.Errorf("rendered %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestChatUsesTemplate: with a chat template, a chat request runs the
// rendered prompt, encoded without extra special tokens.
func TestChatUsesTemplate(t *testing.T) {
	dir := writeTokenizerConfig(t, `{"bos_token": "<|begin_of_text|>", "chat_template": "`+jsonEscape(llama3Template)+`"}`)
	src := filepath.Join("..", "testdata", "llama3-tiny")
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := LoadChatTemplate(dir)
	if err != nil || ct == nil {
		t.Fatalf("template %v, %v", ct, err)
	}
	s, err := New(m, tok, Config{Chat: ct})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	msgs := []ChatMessage{{"user", "Hello"}}
	text, _ := ct.Render(msgs)
	ids := tok.Encode(text, false)
	if ids[0] != 0 || len(ids) < 2 || ids[1] == 0 {
		t.Fatalf("rendered prompt encodes to %v: want one BOS (id 0) first", ids)
	}
	_, chat := post(t, hs.URL+"/v1/chat/completions", map[string]any{"messages": msgs, "max_tokens": 6, "temperature": 0, "ignore_eos": true})
	_, comp := post(t, hs.URL+"/v1/completions", map[string]any{"prompt": ids, "max_tokens": 6, "temperature": 0, "ignore_eos": true})
	if u := chat["usage"].(map[string]any); u["prompt_tokens"] != float64(len(ids)) {
		t.Errorf("chat prompt tokens %v, want %d", u["prompt_tokens"], len(ids))
	}
	got := choice(t, chat, 0)["message"].(map[string]any)["content"]
	if want := choice(t, comp, 0)["text"]; got != want {
		t.Errorf("chat reply %q, completion of the rendered prompt %q", got, want)
	}
	_, bad := post(t, hs.URL+"/v1/chat/completions", map[string]any{"messages": []map[string]string{}})
	if bad["error"] == nil {
		t.Errorf("empty messages: %v, want an error", bad)
	}
}
