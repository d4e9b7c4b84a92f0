package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/llmcbench/gollm/bench/study"
)

func init() {
	register(command{name: "bench", summary: "run an LLMCBench study (models × methods × tasks) into a resumable results folder", run: runBench})
}

// repeatFlag collects a flag given several times, each value whole (unit
// names and #SBATCH lines hold commas).
type repeatFlag []string

func (l *repeatFlag) String() string { return strings.Join(*l, " ") }

func (l *repeatFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("bench", stderr)
	config := fs.String("config", "", "study config, YAML or JSON (default: the built-in study; see --print-config)")
	out := fs.String("out", study.DefaultDir, "study folder: results cells, samples, checkpoints, the generated world (created when absent; an earlier study folder is resumed)")
	printConfig := fs.Bool("print-config", false, "print the default study config (commented YAML) and exit")
	retry := fs.Bool("retry-failed", false, "rerun the cells recorded as failed (with --executor slurm: submit the failed units too)")
	logSamples := fs.Bool("log-samples", false, "write each eval cell's per-document records to <out>/samples/")
	executor := fs.String("executor", "local", "local: run the study here; slurm: submit its pending units as one Slurm job array (sbatch; docs/CLUSTER.md)")
	status := fs.Bool("status", false, "print each unit's state (pending, queued, running, done, failed) from the study folder and squeue/sacct, and exit")
	var only repeatFlag
	fs.Var(&only, "only", "run only this unit, MODEL/METHOD as --status lists it (repeatable; what each Slurm array task runs)")
	var so study.SlurmOptions
	fs.StringVar(&so.Partition, "partition", "", "slurm: #SBATCH --partition (overrides the config's slurm.partition)")
	fs.StringVar(&so.Gres, "gres", "", "slurm: #SBATCH --gres of each array task, e.g. gpu:1")
	fs.StringVar(&so.Time, "time", "", "slurm: #SBATCH --time of each array task, e.g. 4:00:00 or 1-00:00:00")
	fs.StringVar(&so.Mem, "mem", "", "slurm: #SBATCH --mem of each array task, e.g. 64G")
	fs.StringVar(&so.Account, "account", "", "slurm: #SBATCH --account")
	fs.IntVar(&so.CPUsPerTask, "cpus-per-task", 0, "slurm: #SBATCH --cpus-per-task (0: the config's, else Slurm's default)")
	fs.IntVar(&so.MaxParallel, "max-parallel", 0, "slurm: at most this many array tasks at once (the array's %N; 0: the config's, else no cap)")
	var sbatch repeatFlag
	fs.Var(&sbatch, "sbatch", "slurm: an extra #SBATCH line, e.g. --sbatch=--qos=long (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	so.Sbatch = sbatch
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
	switch *executor {
	case "local", "slurm":
	default:
		return usagef("--executor %q: want local or slurm", *executor)
	}
	if *executor == "local" {
		slurmFlags := []string{"partition", "gres", "time", "mem", "account", "cpus-per-task", "max-parallel", "sbatch"}
		for _, f := range slurmFlags {
			if flagSet(fs, f) {
				return usagef("--%s is an option of --executor slurm", f)
			}
		}
	}
	if f, msg := so.Check(); f != "" {
		return usagef("--%s %s", f, msg)
	}
	if *status && len(only) > 0 {
		return usagef("--status and --only: --status reports every unit")
	}
	if *executor == "slurm" && len(only) > 0 {
		return usagef("--only runs units here (--executor local); --executor slurm submits every pending unit")
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
	opts := study.Options{Config: cfg, Dir: *out, Gollm: exe, RetryFailed: *retry, LogSamples: *logSamples, Progress: stderr, Only: only}
	switch {
	case *status:
		return benchStatus(ctx, opts, cf.json, stdout)
	case *executor == "slurm":
		return benchSubmit(ctx, opts, cfg.Slurm.Merge(so), *config, cf, stdout, stderr)
	}
	sum, err := study.Run(ctx, opts)
	if err != nil {
		if (ctx.Err() != nil || errors.Is(err, study.ErrInterrupted)) && sum != nil {
			return fmt.Errorf("interrupted after %d of %d cells this run; no partial cell was written: run gollm bench again to continue", sum.Ran, sum.Cells)
		}
		return err
	}
	if cf.json {
		return writeJSON(stdout, sum)
	}
	busy := ""
	if sum.Busy > 0 {
		busy = fmt.Sprintf("; %d left to the processes computing them", sum.Busy)
	}
	fmt.Fprintf(stdout, "%s: %d cells (%d ok, %d failed; %d run now, %d already done%s) in %.1f s\n",
		sum.Folder, sum.Cells, sum.OK, sum.Failed, sum.Ran, sum.Skipped, busy, sum.Seconds)
	return nil
}

// flagSet reports whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// benchStatus prints each unit's state.
func benchStatus(ctx context.Context, o study.Options, asJSON bool, stdout io.Writer) error {
	o.Progress = nil
	rep, err := study.Status(ctx, o, &study.Slurm{})
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, rep)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "UNIT\tSTATE\tCELLS OK/FAILED/ALL\tSLURM\tDETAIL")
	for _, u := range rep.Units {
		job := u.Job
		if u.SlurmState != "" {
			job += " " + u.SlurmState
		}
		detail := ""
		if u.Holder != nil {
			detail = "computed by " + u.Holder.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%d/%d/%d\t%s\t%s\n", u.ID, u.State, u.OK, u.Failed, u.Cells, job, detail)
	}
	w.Flush()
	fmt.Fprintf(stdout, "%s: %s (Slurm: %s)\n", rep.Folder, countsLine(rep.Counts), rep.Slurm)
	return nil
}

// benchSubmit submits the study's pending units as one Slurm job array.
func benchSubmit(ctx context.Context, o study.Options, so study.SlurmOptions, config string, cf *commonFlags, stdout, stderr io.Writer) error {
	if _, err := exec.LookPath("sbatch"); err != nil {
		return study.ErrNoSbatch
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(wd, p)
	}
	cmd := []string{o.Gollm, "bench", "--out", abs(o.Dir)}
	if config != "" {
		cmd = append(cmd, "--config", abs(config))
	}
	if o.RetryFailed {
		cmd = append(cmd, "--retry-failed")
	}
	if o.LogSamples {
		cmd = append(cmd, "--log-samples")
	}
	if cf.threads > 0 {
		cmd = append(cmd, "--threads", strconv.Itoa(cf.threads))
	}
	o.Progress = nil
	res, err := study.Submit(ctx, study.SubmitOptions{Options: o, Slurm: so, Command: cmd, Workdir: wd})
	if err != nil {
		return err
	}
	if cf.json {
		return writeJSON(stdout, res)
	}
	if res.Job == "" {
		fmt.Fprintf(stdout, "%s: nothing to submit (%s)\n", res.Folder, countsLine(res.Counts))
		return nil
	}
	fmt.Fprintf(stderr, "script %s\n", res.Script)
	fmt.Fprintf(stdout, "%s: submitted job array %s: %d units (%s before; gollm bench --status --out %s follows it)\n",
		res.Folder, res.Job, len(res.Units), countsLine(res.Counts), o.Dir)
	return nil
}

func countsLine(m map[string]int) string {
	var out []string
	for _, s := range []string{study.StateDone, study.StateFailed, study.StateRunning, study.StateQueued, study.StatePending} {
		if m[s] > 0 {
			out = append(out, fmt.Sprintf("%d %s", m[s], s))
		}
	}
	return strings.Join(out, ", ") + " units"
}
