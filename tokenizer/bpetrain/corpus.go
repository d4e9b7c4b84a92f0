package bpetrain

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/tokenizer"
)

// ErrBadInput marks training input or options that cannot give a tokenizer:
// an empty file, invalid UTF-8, a vocabulary size that is not allowed or
// that the corpus cannot fill. The CLI maps it to exit code 2.
var ErrBadInput = badinput.New("bad tokenizer training input")

// Corpus holds the word counts of the training text: each line (with its
// '\n') split by the GPT-2 pre-tokenization regex, as Hugging Face
// tokenizers' train_from_files feeds each line of its files to a ByteLevel
// pre-tokenizer. Its memory is the distinct words, not the text.
type Corpus struct {
	words          map[string]int64
	bytes          int64
	addPrefixSpace bool
}

// CorpusOptions configure how a Corpus splits its text into words: the
// ByteLevel pre-tokenizer of the tokenizer it trains.
type CorpusOptions struct {
	// AddPrefixSpace gives each line a leading space, unless it starts
	// with one, before the regex split: the ByteLevel pre-tokenizer's
	// add_prefix_space (RoBERTa's; Hugging Face's trainer applies it to
	// each line it feeds). Encoding then gives a word at the start of a
	// text the token it has after a space, so "A" alone and the "A" of
	// "Answer: A" are the same token ĠA, as LLaMA-1/2's SentencePiece
	// tokenizer's ▁A. False (GPT-2's and LLaMA-3's setting) leaves the
	// text as it is, and "A" alone is the token A.
	AddPrefixSpace bool
}

// NewCorpus returns an empty corpus that splits its text as opt says.
func NewCorpus(opt CorpusOptions) *Corpus {
	return &Corpus{words: map[string]int64{}, addPrefixSpace: opt.AddPrefixSpace}
}

// Add reads the text of r, named name in errors, and counts its words. It
// refuses (ErrBadInput) an empty text and invalid UTF-8, naming the byte
// offset of the first bad byte; nothing of a refused text is counted.
func (c *Corpus) Add(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	local := map[string]int64{}
	var off int64
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			if !utf8.ValidString(line) {
				return fmt.Errorf("%s: %w: invalid UTF-8 at byte %d", name, ErrBadInput, off+int64(firstInvalid(line)))
			}
			text := line
			if c.addPrefixSpace && !strings.HasPrefix(text, " ") {
				text = " " + text
			}
			tokenizer.SplitGPT2(text, func(w string) { local[w]++ })
			off += int64(len(line))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if off == 0 {
		return fmt.Errorf("%s: %w: the file is empty", name, ErrBadInput)
	}
	for w, n := range local {
		c.words[w] += n
	}
	c.bytes += off
	return nil
}

// firstInvalid returns the byte offset of the first invalid UTF-8 sequence
// of s.
func firstInvalid(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(s)
}

// Bytes is the number of text bytes added.
func (c *Corpus) Bytes() int64 { return c.bytes }

// Words is the number of distinct words (pre-tokenized pieces).
func (c *Corpus) Words() int { return len(c.words) }
