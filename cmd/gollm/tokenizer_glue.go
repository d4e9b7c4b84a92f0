package main

import (
	"context"
	"fmt"
	"io"

	"github.com/llmcbench/gollm/tokenizer"
)

func init() {
	register(command{name: "tokenize", summary: "encode text with the tokenizer a model folder ships", run: runTokenize})
}

// textCodec is what the commands need of a tokenizer.
type textCodec interface {
	Encode(text string, addSpecial bool) []int
	Decode(ids []int, skipSpecial bool) string
}

// loadTokenizer loads the tokenizer a model folder ships.
func loadTokenizer(dir string) (*tokenizer.Tokenizer, error) {
	t, err := tokenizer.Load(dir)
	if err != nil {
		// Every failure here is a problem with the folder's files.
		return nil, usagef("--model %s: %v", dir, err)
	}
	return t, nil
}

type tokenizeOutput struct {
	Model   string   `json:"model"`
	Kind    string   `json:"tokenizer"`
	File    string   `json:"file"`
	Text    string   `json:"text"`
	IDs     []int    `json:"ids"`
	Tokens  []string `json:"tokens"`
	Decoded string   `json:"decoded"`
}

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("tokenize", stderr)
	model := fs.String("model", "", "model folder (tokenizer.json or tokenizer.model)")
	text := fs.String("text", "", "text to encode")
	noSpecial := fs.Bool("no-special", false, "do not add special tokens (BOS, post-processor)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return usagef("--model is required (a model folder with tokenizer.json or tokenizer.model)")
	}
	tok, err := loadTokenizer(*model)
	if err != nil {
		return err
	}
	ids := tok.Encode(*text, !*noSpecial)
	out := tokenizeOutput{Model: *model, Kind: tok.Kind(), File: tok.Path(), Text: *text, IDs: ids, Decoded: tok.Decode(ids, true)}
	for _, id := range ids {
		out.Tokens = append(out.Tokens, tok.IDToToken(id))
	}
	if cf.json {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "%v\n%q\n", ids, out.Tokens)
	return nil
}
