package bench_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/bench"
)

// A study folder holding only the LLMCBench poster's tables: LoadStudy
// computes the poster's overall metrics from them.
func ExampleLoadStudy() {
	dir, err := os.MkdirTemp("", "study")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, bench.StudyFileName), []byte(`{"gollm_version":"example"}`), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, bench.PublishedDir), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bench.PublishedDir, bench.PosterName), bench.PosterCSV(), 0o644); err != nil {
		log.Fatal(err)
	}
	sum, err := bench.LoadStudy(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, om := range sum.Tracks[0].OMs {
		if om.Method == "wanda" && om.Setting == "50%" {
			fmt.Printf("%s %s %s: %.2f\n", om.Name, om.Method, om.Setting, om.V)
		}
	}
	// Output:
	// om_ka wanda 50%: 83.25
	// om_ia wanda 50%: 90.19
	// om_perf wanda 50%: 86.79
}
