package compress

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/compress/llmpruner"
	"github.com/llmcbench/gollm/compress/omniquant"
	"github.com/llmcbench/gollm/internal/corpus"
)

// Specs that mean the same run print the same canonical string, and the
// canonical string parses back to itself.
func TestSpecCanonical(t *testing.T) {
	for _, tc := range []struct {
		specs []string
		want  string
	}{
		{[]string{"gptq", "gptq:bits=4", "gptq:group=128,bits=4", " gptq:act_order=false,true_sequential=1 "},
			"gptq:bits=4,group=128,sym=false,act_order=false,static_groups=false,true_sequential=true,damp=0.01,block=128,nsamples=128,seqlen=2048,seed=0,sampling=window"},
		{[]string{"wanda:pattern=2:4", "wanda:sparsity=0.5,pattern=2:4", "wanda:pattern=2:4,sparsity=auto"},
			"wanda:sparsity=0.5,pattern=2:4,nsamples=128,seqlen=auto,seed=0,sampling=window"},
		{[]string{"magnitude", "magnitude:sparsity=0.50", "magnitude:pattern=none"},
			"magnitude:sparsity=0.5,pattern=none"},
		{[]string{"sparsegpt:pattern=4:8,damp=1e-2"},
			"sparsegpt:sparsity=0.5,pattern=4:8,damp=0.01,block=128,nsamples=128,seqlen=2048,seed=0,sampling=window"},
		{[]string{"rtn", "rtn:sym=false"}, "rtn:bits=4,group=128,sym=false"},
		{[]string{"awq:clip=false,bits=3"}, "awq:bits=3,group=128,sym=false,clip=false,nsamples=128,seqlen=512,seed=42,sampling=concat"},
		{[]string{"smoothquant", "smoothquant:bits=8,alpha=auto"}, "smoothquant:bits=8,alpha=auto,nsamples=512,seqlen=512,seed=42,sampling=truncate"},
		{[]string{"llm-pruner:sparsity=0.2,importance=param_mix", "llm-pruner:importance=element2,sparsity=.2"},
			"llm-pruner:sparsity=0.2,layer_ratio=0,block_start=0,block_end=auto,importance=element2,nsamples=10,seqlen=64,seed=42,lora_steps=0,lora_rank=8,lora_alpha=16,lora_lr=0.0001,lora_batch=4,lora_seqlen=128"},
		{[]string{"omniquant", "omniquant:abits=16", "omniquant:abits=0"}, "omniquant:bits=4,abits=16,group=-1,epochs=20,nsamples=128,seqlen=2048,seed=2"},
	} {
		for _, s := range tc.specs {
			sp, err := ParseSpec(s)
			if err != nil {
				t.Errorf("ParseSpec(%q): %v", s, err)
				continue
			}
			if got := sp.String(); got != tc.want {
				t.Errorf("ParseSpec(%q) = %s\nwant %s", s, got, tc.want)
			}
			back, err := ParseSpec(sp.String())
			if err != nil || back.String() != sp.String() {
				t.Errorf("round trip of %s: %v, %v", sp, back, err)
			}
		}
	}
}

// Every method's bare name parses, and Defaults is its spec's defaults.
func TestSpecEveryMethod(t *testing.T) {
	for _, m := range AllMethods {
		info, ok := LookupMethod(m)
		if !ok || info.Doc == "" {
			t.Fatalf("%s: no description", m)
		}
		for _, p := range info.Params {
			if p.Doc == "" || p.Type == "" || p.Default == "" {
				t.Errorf("%s.%s: incomplete %+v", m, p.Key, p)
			}
		}
		if m == LLMPruner {
			continue // needs sparsity or layer_ratio
		}
		sp, err := ParseSpec(m)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if sp.Method != m || !strings.HasPrefix(sp.String(), m+":") {
			t.Errorf("%s: %s", m, sp)
		}
	}
	if c := Defaults(GPTQ); c.Bits != 4 || c.GroupSize != 128 || !c.TrueSequential || c.NSamples != 128 || c.Seqlen != 2048 || c.Seed != 0 || c.Sampling != corpus.SampleWindow {
		t.Errorf("Defaults(gptq) = %+v", c)
	}
	if c := Defaults(Wanda); c.Sparsity != 0.5 || c.Seqlen != 0 {
		t.Errorf("Defaults(wanda) = %+v", c)
	}
}

// A Config's spec is the spec it was built from.
func TestConfigSpec(t *testing.T) {
	for _, s := range []string{"gptq:bits=3,act_order=true,group=-1", "wanda:pattern=2:4,seqlen=64", "awq:clip=false", "smoothquant:alpha=0.8", "sparsegpt:sparsity=0.7"} {
		want, err := ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		c := Config{Method: want.Method}
		c.ApplySpec(want)
		got, err := c.Spec()
		if err != nil || got.String() != want.String() {
			t.Errorf("%s: Config.Spec() = %s, %v", want, got, err)
		}
	}
}

// Bad specs are bad input naming the method or the key.
func TestSpecBad(t *testing.T) {
	for _, tc := range []struct{ spec, msg string }{
		{"", "unknown method"},
		{"bogus", `unknown method "bogus"`},
		{"gptq:", "want key=value"},
		{"gptq:bits", "want key=value"},
		{"gptq:=4", "want key=value"},
		{"gptq:colour=red", `unknown key "colour"`},
		{"rtn:act_order=true", `unknown key "act_order"`},
		{"gptq:bits=4,bits=3", `"bits" given twice`},
		{"gptq:bits=9", "bits=9: supported widths are 2 to 8"},
		{"gptq:bits=four", "bits=four: want an integer"},
		{"gptq:bits=auto", "bits=auto: want an integer"},
		{"gptq:group=12", "group=12: want -1"},
		{"gptq:sym=maybe", "sym=maybe: want true or false"},
		{"gptq:damp=1", "damp=1: dampening"},
		{"gptq:damp=NaN", "damp=NaN: want a finite number"},
		{"gptq:nsamples=0", "nsamples=0: want ≥ 1"},
		{"gptq:seed=-1", "seed=-1: want ≥ 0"},
		{"gptq:sampling=random", "sampling=random: want one of window"},
		{"wanda:sparsity=1", "sparsity=1: want a fraction in (0, 1)"},
		{"wanda:pattern=4:4", "pattern=4:4: want N:M"},
		{"wanda:pattern=2-4", "pattern=2-4: want N:M"},
		{"wanda:sparsity=0.7,pattern=2:4", "sparsity=0.7 contradicts pattern=2:4"},
		{"smoothquant:bits=4", "W8A8"},
		{"smoothquant:alpha=1.5", "alpha=1.5: want a value in (0, 1]"},
		{"llm-pruner", "exactly one of sparsity"},
		{"llm-pruner:sparsity=0.2,layer_ratio=0.3", "exactly one of sparsity"},
		{"llm-pruner:sparsity=0.2,importance=random", "importance=random"},
		{"llm-pruner:sparsity=0.2,block_start=3,block_end=2", "layer range is empty"},
		{"omniquant:abits=3", "abits=3"},
		{"omniquant:epochs=0", "epochs=0"},
	} {
		_, err := ParseSpec(tc.spec)
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseSpec(%q) = %v, want ErrBadInput with %q", tc.spec, err, tc.msg)
		}
	}
}

// The defaults of the whole-model methods' specs (what the CLI passes)
// are their packages' reference defaults.
func TestSpecDefaultsArePackageDefaults(t *testing.T) {
	lc := llmpruner.LoRAConfig{}.WithDefaults()
	itoa, ftoa := strconv.Itoa, formatFloat
	for spec, want := range map[string]map[string]string{
		"llm-pruner:sparsity=0.2": {
			"nsamples": itoa(llmpruner.DefaultNSamples), "seqlen": itoa(llmpruner.DefaultSeqlen), "seed": itoa(llmpruner.DefaultSeed),
			"importance": llmpruner.Element1, "lora_rank": itoa(lc.Rank), "lora_alpha": ftoa(lc.Alpha),
			"lora_lr": ftoa(lc.LR), "lora_batch": itoa(lc.Batch), "lora_seqlen": itoa(lc.Seqlen)},
		"omniquant": {
			"epochs": itoa(omniquant.DefaultEpochs), "nsamples": itoa(omniquant.DefaultNSamples), "seqlen": itoa(omniquant.DefaultSeqlen),
			"seed": itoa(omniquant.DefaultSeed), "group": "-1"},
	} {
		sp, err := ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		for key, w := range want {
			if got := sp.Get(key); got != w {
				t.Errorf("%s: spec %s=%s, package default %s", spec, key, got, w)
			}
		}
	}
}
