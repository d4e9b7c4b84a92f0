package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/progress"
	"github.com/llmcbench/gollm/tokenizer"
	"github.com/llmcbench/gollm/tokenizer/bpetrain"
)

func init() {
	register(command{name: "tokenizer-train", summary: "train a byte-level BPE tokenizer on local text (tokenizer.json folder for gollm train)", run: runTokenizerTrain})
}

type tokenizerTrainOutput struct {
	Out            string  `json:"out"`
	VocabSize      int     `json:"vocab_size"`
	Merges         int     `json:"merges"`
	AddPrefixSpace bool    `json:"add_prefix_space"`
	DataBytes      int64   `json:"data_bytes"`
	Words          int     `json:"distinct_words"`
	DataTokens     int     `json:"data_tokens"`
	TokPerByte     float64 `json:"tokens_per_byte"`
	Seconds        float64 `json:"train_seconds"`
}

func runTokenizerTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("tokenizer-train", stderr)
	data := fs.String("data", "", "text files to train on, comma-separated (UTF-8)")
	vocab := fs.Int("vocab-size", 4096, fmt.Sprintf("total vocabulary size, special tokens included (a multiple of %d)", bpetrain.VocabMultiple))
	out := fs.String("out", "", "output folder (tokenizer.json, tokenizer_config.json, special_tokens_map.json)")
	prefixSpace := fs.Bool("add-prefix-space", false, "give each line (and each encoded text) a leading space before the split, as RoBERTa's ByteLevel pre-tokenizer: \"A\" alone encodes as the \"A\" of \"Answer: A\" (LLMCBench's letter scoring, as LLaMA-1/2's tokenizer); default off, as GPT-2 and LLaMA-3")
	overwrite := fs.Bool("overwrite", false, "write into a folder holding other files (they are kept)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var files []string
	for _, f := range strings.Split(*data, ",") {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	switch {
	case len(files) == 0:
		return usagef("--data is required (text files, comma-separated)")
	case *out == "":
		return usagef("--out is required (the tokenizer folder)")
	}
	if err := bpetrain.CheckVocabSize(*vocab); err != nil {
		return usagef("--vocab-size: %v", strings.TrimPrefix(err.Error(), bpetrain.ErrBadInput.Error()+": "))
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return badinput.Missing(fmt.Errorf("--data %s: %w", f, err))
		}
		if !st.Mode().IsRegular() {
			return usagef("--data %s: not a regular file", f)
		}
	}
	d, err := outdir.Create(*out, outdir.Options{Command: "tokenizer-train", Flag: "--out", Overwrite: *overwrite})
	if err != nil {
		return err
	}
	defer d.Close()

	start := time.Now()
	corpus := bpetrain.NewCorpus(bpetrain.CorpusOptions{AddPrefixSpace: *prefixSpace})
	for _, f := range files {
		if err := addFile(corpus, f); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	base := len(bpetrain.SpecialTokens) + 256
	bar := progress.New(stderr, "tokenizer-train merges", *vocab-base)
	model, err := bpetrain.Train(ctx, corpus, bpetrain.Options{VocabSize: *vocab,
		Progress: func(done, _ int) { bar.Set(done-base, "") }})
	if err != nil {
		bar.Abort()
		if errors.Is(err, bpetrain.ErrBadInput) {
			return fmt.Errorf("--data %s: %w", *data, err)
		}
		return err
	}
	bar.Finish()
	elapsed := time.Since(start).Seconds()
	if err := model.Save(d.Tmp); err != nil {
		return err
	}
	// Check what was written: it loads, and its token count of the data.
	tok, err := tokenizer.Load(d.Tmp)
	if err != nil {
		return fmt.Errorf("the trained tokenizer does not load: %w", err)
	}
	tokens := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--data %s: %w", f, err)
		}
		tokens += len(tok.Encode(string(b), false))
	}
	if err := d.Commit(); err != nil {
		return err
	}
	res := tokenizerTrainOutput{Out: *out, VocabSize: len(model.Vocab), Merges: len(model.Merges), AddPrefixSpace: model.AddPrefixSpace,
		DataBytes: corpus.Bytes(), Words: corpus.Words(), DataTokens: tokens,
		TokPerByte: float64(tokens) / float64(corpus.Bytes()), Seconds: elapsed}
	if cf.json {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "trained %d tokens (%d merges) on %d bytes (%d distinct words) in %.1fs; the data is %d tokens (%.4f tokens/byte); tokenizer in %s\n",
		res.VocabSize, res.Merges, res.DataBytes, res.Words, res.Seconds, res.DataTokens, res.TokPerByte, filepath.Clean(*out))
	return nil
}

// addFile counts the words of one --data file.
func addFile(c *bpetrain.Corpus, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--data %s: %w", path, err)
	}
	defer f.Close()
	if err := c.Add("--data "+path, f); err != nil {
		return err
	}
	return nil
}
