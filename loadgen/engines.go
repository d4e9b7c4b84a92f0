package loadgen

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"strings"
)

// Compat is one row of the engine compatibility table: whether an engine
// loads the checkpoint a compression method writes, from the engine's own
// documentation.
type Compat struct {
	// Engine is vllm, tensorrt-llm, mlc-llm or llama.cpp.
	Engine string `json:"engine"`
	// Method is gptq-w4a16, awq-w4a16, smoothquant-w8a8, sparse-2:4
	// (compressed-tensors) or sparse-dense (unstructured sparsity stored
	// dense).
	Method string `json:"method"`
	// Support is yes, no, partial or undocumented.
	Support string `json:"support"`
	Note    string `json:"note"`
	// Source is the documentation page the row comes from.
	Source string `json:"source"`
}

//go:embed engines.csv
var enginesCSV string

// CompatTable returns the engine compatibility table (engines.csv,
// embedded; docs/ENGINES.md shows it). It panics only if the embedded
// file is malformed, which a test rules out.
func CompatTable() []Compat {
	rows, err := parseCompat(enginesCSV)
	if err != nil {
		panic(err)
	}
	return rows
}

// parseCompat reads the table's CSV.
func parseCompat(text string) ([]Compat, error) {
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("engines.csv: %w", err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "engine,method,support,note,source" {
		return nil, fmt.Errorf("engines.csv: want the header engine,method,support,note,source")
	}
	var out []Compat
	for i, r := range recs[1:] {
		c := Compat{Engine: r[0], Method: r[1], Support: r[2], Note: r[3], Source: r[4]}
		switch c.Support {
		case "yes", "no", "partial", "undocumented":
		default:
			return nil, fmt.Errorf("engines.csv:%d: support %q: want yes, no, partial or undocumented", i+2, c.Support)
		}
		if !strings.HasPrefix(c.Source, "https://") {
			return nil, fmt.Errorf("engines.csv:%d: source %q is not a URL", i+2, c.Source)
		}
		out = append(out, c)
	}
	return out, nil
}

// CompatMarkdown renders the table as Markdown, one row per engine and
// method with its source (docs/ENGINES.md holds this rendering; a test
// keeps the two equal).
func CompatMarkdown(rows []Compat) string {
	var b strings.Builder
	b.WriteString("| engine | method's checkpoint | loads | note | source |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | <%s> |\n", r.Engine, r.Method, r.Support, r.Note, r.Source)
	}
	return b.String()
}
