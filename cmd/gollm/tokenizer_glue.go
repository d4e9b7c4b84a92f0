package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

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

// maxInputBytes caps what tokenize reads from --file: its output (ids and
// token strings, as JSON) takes tens of bytes per input byte.
const maxInputBytes = 256 << 20

// stdin is what --file - reads (a variable so tests can replace it).
var stdin io.Reader = os.Stdin

// readInput reads a --file argument: a path, or - for r.
func readInput(path string, r io.Reader) ([]byte, error) {
	if path != "-" {
		st, err := os.Stat(path)
		if err != nil {
			return nil, usagef("--file %s: %v", path, errors.Unwrap(err))
		}
		if st.IsDir() {
			return nil, usagef("--file %s: is a folder, want a text file", path)
		}
		if st.Size() > maxInputBytes {
			return nil, usagef("--file %s: %d bytes, more than the %d MiB tokenize reads", path, st.Size(), maxInputBytes>>20)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("--file %s: %v", path, errors.Unwrap(err))
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, usagef("--file %s: %v", path, err)
	}
	if len(b) > maxInputBytes {
		return nil, usagef("--file %s: more than the %d MiB tokenize reads", path, maxInputBytes>>20)
	}
	if !utf8.Valid(b) {
		return nil, usagef("--file %s: not UTF-8 text", path)
	}
	return b, nil
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
	text := fs.String("text", "", "text to encode (for long texts use --file)")
	file := fs.String("file", "", "read the text to encode from this file (- for standard input)")
	noSpecial := fs.Bool("no-special", false, "do not add special tokens (BOS, post-processor)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return usagef("--model is required (a model folder with tokenizer.json or tokenizer.model)")
	}
	if err := checkThreads(cf.threads); err != nil {
		return err
	}
	textSet := false
	fs.Visit(func(f *flag.Flag) { textSet = textSet || f.Name == "text" })
	if textSet && *file != "" {
		return usagef("--text and --file both given: give one")
	}
	if !textSet && *file == "" {
		return usagef("give the text with --text TEXT or --file PATH (--file - reads standard input)")
	}
	input := *text
	if *file != "" {
		b, err := readInput(*file, stdin)
		if err != nil {
			return err
		}
		input = string(b)
	}
	tok, err := loadTokenizer(*model)
	if err != nil {
		return err
	}
	ids := tok.Encode(input, !*noSpecial)
	out := tokenizeOutput{Model: *model, Kind: tok.Kind(), File: tok.Path(), Text: input, IDs: ids, Decoded: tok.Decode(ids, true)}
	for _, id := range ids {
		out.Tokens = append(out.Tokens, tok.IDToToken(id))
	}
	if cf.json {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "%v\n%q\n", ids, out.Tokens)
	return nil
}
