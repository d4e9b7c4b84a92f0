package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/llmcbench/gollm/bench/study"
)

func init() {
	register(command{name: "bench", summary: "run an LLMCBench study (models × methods × tasks) into a resumable results folder", run: runBench})
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("bench", stderr)
	config := fs.String("config", "", "study config, YAML or JSON (default: the built-in study; see --print-config)")
	out := fs.String("out", study.DefaultDir, "study folder: results cells, samples, checkpoints, the generated world (created when absent; an earlier study folder is resumed)")
	printConfig := fs.Bool("print-config", false, "print the default study config (commented YAML) and exit")
	retry := fs.Bool("retry-failed", false, "rerun the cells recorded as failed")
	logSamples := fs.Bool("log-samples", false, "write each eval cell's per-document records to <out>/samples/")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *printConfig {
		_, err := stdout.Write(study.DefaultYAML())
		return err
	}
	if cf.device != "cpu" {
		return usagef("--device %s: gollm bench runs on the cpu in this build", cf.device)
	}
	if err := checkThreads(cf.threads); err != nil {
		return err
	}
	var cfg *study.Config
	var err error
	if *config == "" {
		cfg, err = study.Default()
	} else {
		cfg, err = study.Load(*config)
	}
	if err != nil {
		return err
	}
	if cf.threads > 0 {
		cfg.Threads = cf.threads
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the gollm executable to run the cells: %w", err)
	}
	sum, err := study.Run(ctx, study.Options{Config: cfg, Dir: *out, Gollm: exe, RetryFailed: *retry, LogSamples: *logSamples, Progress: stderr})
	if err != nil {
		if ctx.Err() != nil && sum != nil {
			return fmt.Errorf("interrupted after %d of %d cells this run; no partial cell was written: run gollm bench again to continue", sum.Ran, sum.Cells)
		}
		return err
	}
	if cf.json {
		return writeJSON(stdout, sum)
	}
	fmt.Fprintf(stdout, "%s: %d cells (%d ok, %d failed; %d run now, %d already done) in %.1f s\n",
		sum.Folder, sum.Cells, sum.OK, sum.Failed, sum.Ran, sum.Skipped, sum.Seconds)
	return nil
}
