package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/synth"
)

func init() {
	register(command{name: "synth", summary: "generate the built-in world: a corpus and its LLMCBench-style tasks (docs/WORLD.md)", run: runSynth})
}

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("synth", stderr)
	def := synth.DefaultOptions()
	seed := fs.Uint64("seed", def.Seed, "seed of every random choice (same seed and flags: same bytes)")
	scale := fs.Int("scale", def.Scale, "entity and task-item multiplier (1: a small world)")
	repeat := fs.Int("repeat", def.Repeat, "encyclopedia articles per entity (scales the corpus)")
	out := fs.String("out", "", "output folder (corpus/, tasks/, world.json, MANIFEST.json)")
	overwrite := fs.Bool("overwrite", false, "write into a folder holding other files (they are kept)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if *scale < 1 || *repeat < 1 {
		return usagef("--scale %d, --repeat %d: both must be ≥ 1", *scale, *repeat)
	}
	d, err := outdir.Create(*out, outdir.Options{Command: "synth", Flag: "--out", Overwrite: *overwrite})
	if err != nil {
		return err
	}
	defer d.Close()
	o, err := synth.Generate(synth.Options{Seed: *seed, Scale: *scale, Repeat: *repeat})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := o.Write(d.Tmp); err != nil {
		return err
	}
	if err := d.Commit(); err != nil {
		return err
	}
	if cf.json {
		return writeJSON(stdout, o.Manifest)
	}
	for _, f := range o.Files {
		fmt.Fprintf(stdout, "%-55s %9d bytes  %6d\n", filepath.Join(*out, f.Path), len(f.Data), f.Count)
	}
	if o.Dropped > 0 {
		fmt.Fprintf(stderr, "gollm synth: %d task items were redrawn because their text is in the training split\n", o.Dropped)
	}
	return nil
}
