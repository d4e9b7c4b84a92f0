package report

import (
	"fmt"
	"io"

	"github.com/llmcbench/gollm/loadgen"
)

// writeEnginesMarkdown writes, under Track 5, the engine compatibility
// table (loadgen/engines.csv): which serving engine loads which method's
// checkpoint, from the engines' own documentation; an engine that does not
// load a method has no number for it.
func writeEnginesMarkdown(w io.Writer) {
	fmt.Fprint(w, "## Engines: which loads which method's checkpoint\n\n")
	fmt.Fprint(w, "From each engine's documentation (loadgen/engines.csv, docs/ENGINES.md); gollm-cpu and gollm-serve load every gollm checkpoint.\n\n")
	fmt.Fprint(w, loadgen.CompatMarkdown(loadgen.CompatTable()))
	fmt.Fprintln(w)
}
