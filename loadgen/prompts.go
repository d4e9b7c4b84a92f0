package loadgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/badinput"
)

// Prompt is one request's prompt: token ids (IDs non-nil) or text.
type Prompt struct {
	IDs  []int
	Text string
	// InputLen is the prompt's length as built (ids or words; 0 when
	// unknown) and OutputLen the max_tokens asked for.
	InputLen, OutputLen int
}

// Prompt formats of random prompts.
const (
	// FormatIDs sends the prompt as token ids ("prompt": [ids]), which
	// vLLM, llama.cpp's server and gollm serve accept: exactly InputLen
	// tokens whatever the tokenizer.
	FormatIDs = "ids"
	// FormatText sends InputLen random words from a fixed list; the
	// server's tokenizer decides the token count (usage.prompt_tokens is
	// what the metrics count).
	FormatText = "text"
)

// firstID is the smallest random token id: ids below it are the special
// tokens of most vocabularies (LLaMA's <unk>, <s>, </s>).
const firstID = 3

// words are the random text prompts' vocabulary: common English words,
// one token each in most BPE vocabularies.
var words = strings.Fields(`the of and to in is was for on that with as by at from his her
they this which had not are but have one were all their there been has when who will more
no if out so said what up its about into than them can only other new some could time these
two may then do first any my now such like our over man me even most made after also did many
before must through back years where much your way well down should because each just those
people how too little state good very make world still own see men work long get here between
both life being under never day same another know while last might great old year off come
since against go came right used take three`)

// RandomPrompts returns n prompts of inputLen tokens (or words) asking
// for outputLen tokens, drawn from seed: token ids uniform in
// [3, vocabSize) for FormatIDs, words from a fixed list for FormatText.
func RandomPrompts(n, inputLen, outputLen int, format string, vocabSize int, seed uint64) ([]Prompt, error) {
	switch {
	case format != FormatIDs && format != FormatText:
		return nil, badinput.Errorf("--prompt-format %q: want %s or %s", format, FormatIDs, FormatText)
	case format == FormatIDs && vocabSize <= firstID:
		return nil, badinput.Errorf("--vocab-size %d: want more than %d", vocabSize, firstID)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c6f616467656e)) // "loadgen"
	ps := make([]Prompt, n)
	for i := range ps {
		ps[i] = Prompt{InputLen: inputLen, OutputLen: outputLen}
		if format == FormatIDs {
			ps[i].IDs = make([]int, inputLen)
			for j := range ps[i].IDs {
				ps[i].IDs[j] = firstID + rng.IntN(vocabSize-firstID)
			}
			continue
		}
		w := make([]string, inputLen)
		for j := range w {
			w[j] = words[rng.IntN(len(words))]
		}
		ps[i].Text = strings.Join(w, " ")
	}
	return ps, nil
}

// datasetLine is one line of a dataset file.
type datasetLine struct {
	Prompt    *string `json:"prompt"`
	OutputLen *int    `json:"output_len"`
}

// LoadDataset reads a dataset file: JSON lines, each an object with a
// "prompt" string and optionally "output_len" (max_tokens; outputLen when
// absent). Blank lines are skipped. It returns the first n prompts, cycling
// through the file when it has fewer. A missing file, a line that is not
// such an object, or a file with no prompt is bad input naming the file
// and line.
func LoadDataset(path string, n, outputLen int) ([]Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badinput.Missing(fmt.Errorf("--dataset %s: %w", path, errors.Unwrap(err)))
	}
	defer f.Close()
	var ps []Prompt
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var l datasetLine
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, badinput.Errorf("--dataset %s:%d: not a JSON object: %v", path, line, err)
		}
		if l.Prompt == nil || *l.Prompt == "" {
			return nil, badinput.Errorf("--dataset %s:%d: no \"prompt\" string", path, line)
		}
		p := Prompt{Text: *l.Prompt, OutputLen: outputLen}
		if l.OutputLen != nil {
			if *l.OutputLen < 1 {
				return nil, badinput.Errorf("--dataset %s:%d: output_len %d: want at least 1", path, line, *l.OutputLen)
			}
			p.OutputLen = *l.OutputLen
		}
		ps = append(ps, p)
	}
	if err := sc.Err(); err != nil {
		return nil, badinput.Errorf("--dataset %s: %v", path, err)
	}
	if len(ps) == 0 {
		return nil, badinput.Errorf("--dataset %s: no prompts", path)
	}
	out := make([]Prompt, n)
	for i := range out {
		out[i] = ps[i%len(ps)]
	}
	return out, nil
}

// Arrivals returns the send offsets of n requests at rate requests a
// second: a Poisson process (exponential gaps of mean 1/rate, as vllm
// bench serve with burstiness 1) drawn from seed, so the same seed gives
// the same schedule. rate ≤ 0 sends every request at once (offsets 0).
func Arrivals(n int, rate float64, seed uint64) []time.Duration {
	out := make([]time.Duration, n)
	if rate <= 0 {
		return out
	}
	rng := rand.New(rand.NewPCG(seed, 0x6172726976616c)) // "arrival"
	var t float64
	for i := range out {
		out[i] = time.Duration(t * float64(time.Second))
		t += rng.ExpFloat64() / rate
	}
	return out
}
