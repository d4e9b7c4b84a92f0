package cudakernels

import (
	"encoding/binary"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestArtifactsMatchSources checks the committed build products against each
// other: kernels.def must list exactly the PTX's entry points, the fatbin
// must be one (magic 0xBA55ED50), and every kernel must come from a source
// that gollm.cu includes. (Rebuilding them needs nvcc: `make kernels`.)
func TestArtifactsMatchSources(t *testing.T) {
	var def []string
	for _, line := range strings.Split(Def, "\n") {
		if strings.HasPrefix(line, "X(") {
			def = append(def, strings.TrimSuffix(strings.TrimPrefix(line, "X("), ")"))
		}
	}
	var entries []string
	for _, m := range regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(`).FindAllStringSubmatch(PTX, -1) {
		entries = append(entries, m[1])
	}
	sort.Strings(def)
	sort.Strings(entries)
	if len(def) == 0 || strings.Join(def, " ") != strings.Join(entries, " ") {
		t.Fatalf("kernels.def (%d names) and gollm.ptx (%d entries) disagree: run make kernels", len(def), len(entries))
	}
	if len(Fatbin) < 16 || binary.LittleEndian.Uint32(Fatbin) != 0xBA55ED50 {
		t.Fatalf("gollm.fatbin is not a CUDA fat binary")
	}
	if !strings.Contains(PTX, ".target sm_80") {
		t.Errorf("gollm.ptx does not target compute_80")
	}
	umbrella, err := os.ReadFile("gollm.cu")
	if err != nil {
		t.Fatal(err)
	}
	var sources string
	for _, m := range regexp.MustCompile(`#include "(\w+\.cu)"`).FindAllStringSubmatch(string(umbrella), -1) {
		b, err := os.ReadFile(m[1])
		if err != nil {
			t.Fatal(err)
		}
		sources += string(b)
	}
	for _, name := range def {
		// Exported directly, or through a dtype macro (name_##S).
		base := name
		for _, s := range []string{"_f32", "_f16", "_bf16"} {
			if i := strings.Index(name, s); i > 0 {
				base = name[:i]
				break
			}
		}
		if !strings.Contains(sources, name+"(") && !strings.Contains(sources, base+"_##S") {
			t.Errorf("kernel %s: not found in the sources gollm.cu includes", name)
		}
	}
}
