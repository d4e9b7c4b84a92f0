package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/bench/report"
	"github.com/llmcbench/gollm/internal/outdir"
)

func init() {
	register(command{name: "report", summary: "render a study folder (gollm bench) as Markdown, a self-contained HTML page with figures, or JSON", run: runReport})
}

// reportDir is the folder, inside a study, where the HTML report goes by
// default.
const reportDir = "report"

// reportOutput is what `gollm report --json` prints.
type reportOutput struct {
	Format   string         `json:"format"`
	Path     string         `json:"path"`
	Tracks   int            `json:"tracks"`
	OMs      int            `json:"oms"`
	Cells    map[string]int `json:"cells"`
	Problems int            `json:"problems"`
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("report", stderr)
	results := fs.String("results", "", "the study folder gollm bench wrote (study.json, cells/, samples/, published/)")
	format := fs.String("format", "html", "md, html or json")
	out := fs.String("out", "", "write the report to this file (checked before any work, written atomically; gollm replaces only a report it wrote); default: html to RESULTS/report/index.html, md and json to stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *results == "" {
		return usagef("--results: the study folder is required")
	}
	var render func(io.Writer, *bench.Summary) error
	switch *format {
	case "md":
		render = report.Markdown
	case "html":
		render = report.HTML
	case "json":
		render = report.JSON
	default:
		return usagef("--format %q: want md, html or json", *format)
	}
	if st, err := os.Stat(*results); err != nil {
		return usagef("--results %s: %v", *results, errors.Unwrap(err))
	} else if !st.IsDir() {
		return usagef("--results %s: not a folder", *results)
	}
	toStdout := *out == "" && *format != "html"
	if toStdout && cf.json {
		return usagef("--json prints where the report was written: give --out with --format %s", *format)
	}

	// Check where the report goes before reading the study.
	var dir *outdir.Dir
	path := *out
	switch {
	case toStdout:
	case *out == "":
		d, err := outdir.Create(filepath.Join(*results, reportDir), outdir.Options{Command: "report", Flag: "--out"})
		if err != nil {
			return err
		}
		defer d.Abort()
		dir, path = d, filepath.Join(d.Final, "index.html")
	default:
		if err := outdir.CheckFile(*out); err != nil {
			return usagef("--out: %v", err)
		}
		if err := checkReportReplaceable(*out); err != nil {
			return err
		}
	}

	fmt.Fprintf(stderr, "reading the study %s\n", *results)
	sum, err := bench.LoadStudy(*results)
	if err != nil {
		return fmt.Errorf("--results: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if toStdout {
		return render(stdout, sum)
	}
	var buf bytes.Buffer
	if err := render(&buf, sum); err != nil {
		return err
	}
	write := func(f *os.File) error { _, err := f.Write(buf.Bytes()); return err }
	if dir != nil {
		f, err := os.Create(dir.Path("index.html"))
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := dir.Commit(); err != nil {
			return err
		}
	} else if err := outdir.WriteFile(path, write); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	fmt.Fprintf(stderr, "%d tracks, %d problems; %s report written\n", len(sum.Tracks), len(sum.Problems), *format)
	if cf.json {
		o := reportOutput{Format: *format, Path: path, Tracks: len(sum.Tracks), Cells: sum.Study.Cells, Problems: len(sum.Problems)}
		for _, t := range sum.Tracks {
			o.OMs += len(t.OMs)
		}
		return writeJSON(stdout, o)
	}
	// The report's path is the last line (make run ends with it).
	fmt.Fprintln(stdout, path)
	return nil
}

// checkReportReplaceable refuses an existing --out file that is not a
// report gollm wrote (in any format): report replaces its own reports,
// never other files.
func checkReportReplaceable(path string) error {
	return checkOwnFile("--out", path, "a gollm report", "report replaces only its own reports", func(b []byte) bool {
		head := b[:min(len(b), 1024)]
		if bytes.HasPrefix(b, []byte(report.MarkdownMarker)) || bytes.Contains(head, []byte(report.HTMLMarker)) {
			return true
		}
		var s struct {
			Study  *json.RawMessage `json:"study"`
			Tracks *json.RawMessage `json:"tracks"`
		}
		return json.Unmarshal(b, &s) == nil && s.Study != nil && s.Tracks != nil
	})
}
