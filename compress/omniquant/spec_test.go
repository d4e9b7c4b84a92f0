package omniquant_test

import (
	"strconv"
	"testing"

	"github.com/llmcbench/gollm/compress"
	. "github.com/llmcbench/gollm/compress/omniquant"
)

// The defaults of the omniquant method spec (compress.ParseSpec, what the
// CLI passes) are this package's defaults.
func TestSpecDefaults(t *testing.T) {
	sp, err := compress.ParseSpec("omniquant")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"epochs": DefaultEpochs, "nsamples": DefaultNSamples, "seqlen": DefaultSeqlen, "seed": DefaultSeed, "group": -1} {
		if got := sp.Get(key); got != strconv.Itoa(want) {
			t.Errorf("spec %s=%s, package default %d", key, got, want)
		}
	}
}
