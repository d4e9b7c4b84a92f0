package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/models"
)

func init() {
	register(command{name: "generate", summary: "continue a prompt (greedy or sampled) and report tokens/s", run: runGenerate})
}

type generateOutput struct {
	Model         string  `json:"model"`
	Device        string  `json:"device"`
	PromptIDs     []int   `json:"prompt_ids"`
	IDs           []int   `json:"ids"`
	Text          string  `json:"text,omitempty"`
	PromptTokens  int     `json:"prompt_tokens"`
	NewTokens     int     `json:"new_tokens"`
	PrefillMS     float64 `json:"prefill_ms"`
	PrefillTokS   float64 `json:"prefill_tokens_per_s"`
	DecodeTokS    float64 `json:"decode_tokens_per_s"`
	RandomWeights bool    `json:"random_weights,omitempty"`
}

func parseIDs(s string) ([]int, error) {
	var ids []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, usagef("--ids: %q is not a token id", f)
		}
		ids = append(ids, v)
	}
	if len(ids) == 0 {
		return nil, usagef("--ids: no token ids given")
	}
	return ids, nil
}

// checkSampling refuses sampling settings that are out of range or that
// --greedy would ignore, before the model loads.
func checkSampling(fs *flag.FlagSet, greedy bool, temp, topP float64, topK int) error {
	switch {
	case math.IsNaN(temp) || math.IsInf(temp, 0) || temp < 0:
		return usagef("--temperature %g: want a finite value ≥ 0 (0 is greedy)", temp)
	case math.IsNaN(topP) || !(topP > 0 && topP <= 1):
		return usagef("--top-p %g: want a probability in (0, 1]", topP)
	case topK < 0:
		return usagef("--top-k %d: want ≥ 0 (0: no top-k filter)", topK)
	}
	if greedy {
		var given []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "temperature", "top-p", "top-k", "seed":
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return usagef("--greedy takes the most likely token; %s would be ignored (drop one or the other)", strings.Join(given, ", "))
		}
	}
	return nil
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("generate", stderr)
	model := fs.String("model", "", "Hugging Face model folder (config.json + safetensors)")
	prompt := fs.String("prompt", "", "prompt text (needs the tokenizer the folder ships)")
	idsFlag := fs.String("ids", "", "prompt token ids, comma-separated (instead of --prompt)")
	maxNew := fs.Int("max-new-tokens", 32, "tokens to generate")
	greedy := fs.Bool("greedy", false, "greedy decoding (argmax)")
	temp := fs.Float64("temperature", 1.0, "sampling temperature, ≥ 0 (0: greedy)")
	topP := fs.Float64("top-p", 1.0, "nucleus sampling threshold, in (0, 1]")
	topK := fs.Int("top-k", 0, "top-k filter (0: off)")
	seed := fs.Uint64("seed", 0, "token sampling seed (with --random-weights also the weights'; compress's --seed is the calibration seed)")
	random := fs.Bool("random-weights", false, "build the model from config.json alone with random weights (speed measurements)")
	noStop := fs.Bool("ignore-eos", false, "do not stop at the end-of-sequence token")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*prompt == "") == (*idsFlag == "") {
		return usagef("give exactly one of --prompt and --ids")
	}
	if *maxNew < 0 {
		return usagef("--max-new-tokens %d: must be ≥ 0", *maxNew)
	}
	if err := checkSampling(fs, *greedy, *temp, *topP, *topK); err != nil {
		return err
	}
	if *temp == 0 {
		*greedy = true // temperature 0 is argmax, as in the OpenAI API
	}
	m, err := loadModel(*model, cf, *random, int64(*seed))
	if err != nil {
		return err
	}
	defer m.Close()
	var tok textCodec
	var ids []int
	if *idsFlag != "" {
		if ids, err = parseIDs(*idsFlag); err != nil {
			return err
		}
	} else {
		if tok, err = loadTokenizer(*model); err != nil {
			return err
		}
		ids = tok.Encode(*prompt, true)
	}
	for _, id := range ids {
		if id >= m.Config.Vocab {
			return usagef("--ids: token id %d outside the vocabulary [0, %d) of %s", id, m.Config.Vocab, *model)
		}
	}
	if len(ids)+*maxNew > m.Config.MaxPos {
		return usagef("--max-new-tokens %d: %d prompt + %d new tokens exceed max_position_embeddings %d of %s", *maxNew, len(ids), *maxNew, m.Config.MaxPos, *model)
	}
	opt := models.GenerateOptions{MaxNewTokens: *maxNew, Greedy: *greedy, Temperature: *temp, TopP: *topP, TopK: *topK, Seed: *seed}
	if !*noStop {
		opt.StopIDs = m.Config.EOS
	}
	if !cf.json {
		fmt.Fprintf(stderr, "%s\n", m.Describe())
		if tok != nil {
			fmt.Fprint(stdout, *prompt)
			opt.OnToken = func(id int) { fmt.Fprint(stdout, tok.Decode([]int{id}, true)) }
		} else {
			opt.OnToken = func(id int) { fmt.Fprintf(stdout, "%d ", id) }
		}
	}
	res, err := m.Generate(ctx, ids, opt)
	if err != nil {
		return err
	}
	out := generateOutput{
		Model: *model, Device: m.Backend.Name(), PromptIDs: ids, IDs: res.IDs,
		PromptTokens: res.PromptTokens, NewTokens: len(res.IDs),
		PrefillMS: float64(res.Prefill.Microseconds()) / 1e3, PrefillTokS: res.PrefillTokensPerSec(), DecodeTokS: res.DecodeTokensPerSec(),
		RandomWeights: *random,
	}
	if tok != nil {
		out.Text = tok.Decode(res.IDs, true)
	}
	if cf.json {
		return writeJSON(stdout, out)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stderr, "prefill: %d tokens in %.1f ms (%.1f tok/s); decode: %d tokens, %.1f tok/s\n",
		out.PromptTokens, out.PrefillMS, out.PrefillTokS, out.NewTokens, out.DecodeTokS)
	return nil
}
