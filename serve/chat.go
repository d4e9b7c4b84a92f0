package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ardanlabs/jinja"

	"github.com/llmcbench/gollm/internal/badinput"
)

// ChatTemplate is a model's Jinja chat template (tokenizer_config.json's
// chat_template), compiled once and rendered per chat request with
// messages, add_generation_prompt=true and the tokenizer's bos_token and
// eos_token, as transformers' apply_chat_template does. The rendered text
// already holds the special tokens the model expects, so it is encoded
// without adding the tokenizer's own. Safe for concurrent use.
type ChatTemplate struct {
	tmpl     *jinja.Template
	bos, eos string
}

// LoadChatTemplate reads dir's tokenizer_config.json; it returns nil and no
// error when the folder has no such file or the file has no chat_template
// (the server then uses the plain format of ChatPrompt). A template that
// does not parse is bad input naming the file.
func LoadChatTemplate(dir string) (*ChatTemplate, error) {
	path := filepath.Join(dir, "tokenizer_config.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, badinput.Errorf("%s: %v", path, err)
	}
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, badinput.Errorf("%s: %v", path, err)
	}
	src, err := templateSource(cfg.ChatTemplate)
	if err != nil {
		return nil, badinput.Errorf("%s: chat_template: %v", path, err)
	}
	if src == "" {
		return nil, nil
	}
	t, err := jinja.Compile(src)
	if err != nil {
		return nil, badinput.Errorf("%s: chat_template: %v", path, err)
	}
	return &ChatTemplate{tmpl: t, bos: tokenContent(cfg.BOS), eos: tokenContent(cfg.EOS)}, nil
}

// templateSource returns the template text: chat_template is a string or a
// list of {name, template} of which "default" is used.
func templateSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct{ Name, Template string }
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", errors.New("want a string or a list of {name, template}")
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	return "", errors.New("no template named \"default\"")
}

// tokenContent reads a special token given as a string or as an
// AddedToken object {"content": ...}.
func tokenContent(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct{ Content string }
	json.Unmarshal(raw, &obj)
	return obj.Content
}

// Render returns the prompt text for messages, ending with the template's
// generation prompt for the assistant's reply.
func (c *ChatTemplate) Render(messages []ChatMessage) (string, error) {
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msgs[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	out, err := c.tmpl.Render(map[string]any{
		"messages": msgs, "add_generation_prompt": true,
		"bos_token": c.bos, "eos_token": c.eos,
	})
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return out, nil
}
