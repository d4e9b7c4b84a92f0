package bench

import (
	"bytes"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/internal/badinput"
)

// PublishedHeader is the header line of a published-numbers CSV: one
// number a row (docs/BENCH.md, "Published numbers").
const PublishedHeader = "track,group,model,method,setting,task,metric,value,lower_is_better"

// PosterName is the file name of the LLMCBench poster's tables as a
// published-numbers CSV (embedded; Poster returns its rows).
const PosterName = "llmcbench-poster.csv"

//go:embed published/llmcbench-poster.csv
var published embed.FS

// PublishedRow is one number of a published-numbers CSV.
type PublishedRow struct {
	// Track is "1" … "6"; Group the OM group the number feeds
	// ("knowledge", "inference", "generalization", "gpu_memory", …).
	Track string
	Group string
	// Model and Method name the row (Method Dense for the original
	// model); Setting is the method's setting as the source labels it.
	Model   string
	Method  string
	Setting string
	// Task is the dataset (empty for Track 4's measurements), Metric the
	// number's metric ("acc", "ppl", "gpu_memory_G", "macs_T", …).
	Task          string
	Metric        string
	Value         float64
	LowerIsBetter bool
	// Line is the row's line number in its file (the header is line 1).
	Line int
}

// ReadPublished parses a published-numbers CSV from r; name (the file's
// path) is used in errors. A malformed header or row is bad input naming
// the file and line. Reading costs one pass over r.
func ReadPublished(name string, r io.Reader) ([]PublishedRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, badinput.Errorf("%s: empty file: want the header %q", name, PublishedHeader)
	}
	if err != nil {
		return nil, badinput.Errorf("%s: %v", name, err)
	}
	if strings.Join(header, ",") != PublishedHeader {
		return nil, badinput.Errorf("%s:1: header %q: want %q", name, strings.Join(header, ","), PublishedHeader)
	}
	var rows []PublishedRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, badinput.Errorf("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		row, err := parsePublishedRow(rec)
		if err != nil {
			return nil, badinput.Errorf("%s:%d: %v", name, line, err)
		}
		row.Line = line
		rows = append(rows, row)
	}
}

// parsePublishedRow checks and converts one record.
func parsePublishedRow(rec []string) (PublishedRow, error) {
	if len(rec) != 9 {
		return PublishedRow{}, fmt.Errorf("%d fields: want 9 (%s)", len(rec), PublishedHeader)
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	row := PublishedRow{Track: rec[0], Group: rec[1], Model: rec[2], Method: rec[3], Setting: rec[4], Task: rec[5], Metric: rec[6]}
	if n, err := strconv.Atoi(row.Track); err != nil || n < 1 || n > 6 {
		return PublishedRow{}, fmt.Errorf("track %q: want 1 to 6", row.Track)
	}
	if row.Model == "" || row.Method == "" || row.Metric == "" {
		return PublishedRow{}, fmt.Errorf("model, method and metric must not be empty")
	}
	v, err := strconv.ParseFloat(rec[7], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return PublishedRow{}, fmt.Errorf("value %q: want a finite number ≥ 0", rec[7])
	}
	row.Value = v
	switch rec[8] {
	case "true":
		row.LowerIsBetter = true
	case "false":
	default:
		return PublishedRow{}, fmt.Errorf("lower_is_better %q: want true or false", rec[8])
	}
	return row, nil
}

// ReadPublishedFile reads a published-numbers CSV file (see ReadPublished).
func ReadPublishedFile(path string) ([]PublishedRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badinput.Missing(fmt.Errorf("published numbers: %w", err))
	}
	defer f.Close()
	return ReadPublished(path, f)
}

// PosterCSV returns the embedded LLMCBench poster tables (PosterName), to
// place in a study's published/ folder.
func PosterCSV() []byte {
	// The file is embedded at build time; reading it cannot fail.
	b, _ := published.ReadFile(filepath.ToSlash(filepath.Join("published", PosterName)))
	return b
}

// Poster returns the rows of the embedded LLMCBench poster tables.
func Poster() ([]PublishedRow, error) {
	return ReadPublished(PosterName, bytes.NewReader(PosterCSV()))
}
