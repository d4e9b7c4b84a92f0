package study

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/procfs"
	"github.com/llmcbench/gollm/synth"
)

// Speed and footprint settings (docs/BENCH.md).
const (
	// PromptTokens is the prompt of the footprint forward and of the
	// speed runs (less when the model's context is shorter).
	PromptTokens = 128
	// NewTokens is the decode length of a speed run.
	NewTokens = 32
	// SpeedRuns is how many speed runs a cell takes the median of.
	SpeedRuns = 3
)

// Options is one run of a study.
type Options struct {
	Config *Config
	// Dir is the study folder (created when absent).
	Dir string
	// Gollm is the gollm executable the children run (os.Executable()).
	Gollm string
	// RetryFailed reruns cells recorded as failed.
	RetryFailed bool
	// LogSamples writes each eval cell's per-sample records.
	LogSamples bool
	// Progress receives one line per cell (nil: none).
	Progress io.Writer
	// Version is the gollm version in the keys (Version()).
	Version string
	// Only restricts the run to these units (Unit.ID: "model/method"),
	// as a Slurm array task runs one; empty: every unit.
	Only []string
}

// Summary is what a run did.
type Summary struct {
	Folder string `json:"folder"`
	// Cells is the number of cells in the study; Ran those computed in
	// this run, Skipped those found done (ok, or failed without
	// --retry-failed); OK and Failed count the study's cells after the run.
	Cells   int `json:"cells"`
	Ran     int `json:"ran"`
	Skipped int `json:"skipped"`
	OK      int `json:"ok"`
	Failed  int `json:"failed"`
	// Busy counts the cells another live process was computing (their
	// lock held): left to it, not run here.
	Busy    int     `json:"busy"`
	Seconds float64 `json:"seconds"`
}

// plan is one cell to produce.
type plan struct {
	kind, model, method, task, engine string
	inputs                            map[string]string
	key                               string
	modelDir                          string // the model folder it measures (a checkpoint for compressed rows)
	spec                              *compress.Spec
	taskCfg                           Task
	compressKey                       string // the compress cell a compressed row depends on
	family                            string // the model's model_type
	unit                              string // Unit.ID of the model × method it belongs to
}

// runner holds a run's state.
type runner struct {
	o       Options
	ctx     context.Context
	dg      *digests
	machine bench.Machine
	config  json.RawMessage
	sum     Summary
	index   int
	total   int
	results map[string]*bench.Cell // cells of this study, by key, as they stand
	params  map[string]int64       // model + method → parameter count (from footprint cells)
	locks   *lockSet
	jr      *journal
}

// Run runs the study: every cell not yet done, in order (per model: the
// dense row, then per method the compression and the compressed row;
// each row its footprint, evaluations and speed). A failed cell is
// recorded and the run goes on; a cancelled ctx stops at once, writing no
// partial cell. Bad input (the study folder, the world) returns before
// any work.
//
// Each cell is computed under its lock (<study>/locks/<key>.lock), so that
// runs sharing the study folder (Slurm array tasks, a resubmission) never
// compute a cell twice at once: a cell another live process holds is left
// to it (Summary.Busy). With Options.Only the run does those units only.
func Run(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	r, plans, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	defer r.dg.save()
	if plans, err = selectUnits(plans, o.Only); err != nil {
		return nil, err
	}
	r.locks, r.jr = newLockSet(), newJournal(o.Dir)
	defer r.locks.close()
	defer r.jr.close()
	r.total = len(plans)
	r.sum.Cells = len(plans)
	if err := r.execute(plans); err != nil {
		return &r.sum, err
	}
	for _, c := range r.results {
		if c.Status == bench.StatusOK {
			r.sum.OK++
		} else {
			r.sum.Failed++
		}
	}
	r.sum.Seconds = time.Since(start).Seconds()
	return &r.sum, r.dg.save()
}

// prepare readies the study folder (created when absent, the built-in
// world generated, study.json and plan.json written) and plans every cell
// of the study: what Run, Submit and StudyStatus share.
func prepare(ctx context.Context, o Options) (*runner, []*plan, error) {
	if o.Version == "" {
		o.Version = Version()
	}
	if err := prepareDir(o.Dir); err != nil {
		return nil, nil, err
	}
	r := &runner{o: o, ctx: ctx, dg: loadDigests(o.Dir), results: map[string]*bench.Cell{}, params: map[string]int64{}}
	r.sum.Folder = o.Dir
	r.machine = machineInfo(o.Config.Threads)
	if err := r.ensureWorld(); err != nil {
		return nil, nil, err
	}
	var err error
	if r.config, err = json.Marshal(o.Config); err != nil {
		return nil, nil, err
	}
	if err := r.writeStudy(); err != nil {
		return nil, nil, err
	}
	plans, err := r.plan()
	if err != nil {
		return nil, nil, err
	}
	if err := r.writePlan(plans); err != nil {
		return nil, nil, err
	}
	return r, plans, nil
}

// writePlan writes plan.json (bench.StudyPlan), unless it already holds
// this plan (array tasks of one study would all rewrite it).
func (r *runner) writePlan(plans []*plan) error {
	sp := bench.StudyPlan{Gollm: r.o.Version}
	for _, p := range plans {
		sp.Cells = append(sp.Cells, bench.PlannedCell{Key: p.key, Kind: p.kind, Unit: p.unit, Model: p.model, Method: p.method, Task: p.task, Engine: p.engine})
	}
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	path := filepath.Join(r.o.Dir, bench.PlanFileName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return outdir.WriteFile(path, func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
}

// prepareDir creates the study folder, or checks that an existing one is
// a study (or empty): gollm never writes into a folder of other files.
func prepareDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("%w: --out %s: a file, not a folder", outdir.ErrBadPath, dir)
	case err == nil:
		ents, rerr := os.ReadDir(dir)
		if rerr != nil {
			return fmt.Errorf("%w: --out %s: %v", outdir.ErrBadPath, dir, rerr)
		}
		if _, serr := os.Stat(filepath.Join(dir, bench.StudyFileName)); len(ents) > 0 && serr != nil {
			return fmt.Errorf("%w: --out %s: the folder holds files and no %s: not a gollm study (choose another folder)", outdir.ErrBadPath, dir, bench.StudyFileName)
		}
	default:
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("%w: --out %s: %v", outdir.ErrBadPath, dir, errors.Unwrap(err))
		}
	}
	for _, sub := range []string{bench.CellsDir, bench.SamplesDir, bench.CheckpointsDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// ensureWorld generates the built-in world into <study>/world when the
// study's data is the world and it is absent, then checks every task's
// data as gollm eval would.
func (r *runner) ensureWorld() error {
	c := r.o.Config
	worldTasks := filepath.Join(r.o.Dir, WorldDir, "tasks")
	needsWorld := false
	for _, t := range c.Tasks {
		needsWorld = needsWorld || t.Data == ""
	}
	if needsWorld {
		if _, err := os.Stat(worldTasks); err != nil {
			r.progressf("generating the built-in world (gollm synth --seed 1 --scale 2, the reference models' world) into %s", filepath.Join(r.o.Dir, WorldDir))
			opt := synth.ReferenceOptions()
			out, err := synth.Generate(opt)
			if err != nil {
				return err
			}
			d, err := outdir.Create(filepath.Join(r.o.Dir, WorldDir), outdir.Options{Command: "synth", Flag: "world"})
			if err != nil {
				return err
			}
			if err := out.Write(d.Tmp); err != nil {
				d.Abort()
				return err
			}
			if err := d.Commit(); err != nil {
				return err
			}
		}
	}
	for i := range c.Tasks {
		t := &c.Tasks[i]
		if t.Data == "" {
			t.Data = worldTasks
		}
		ec := eval.Config{Tasks: []string{t.Name}, Limit: t.Limit, Shots: t.Shots, Seqlen: t.Seqlen, PromptVariant: t.Prompt, DataDir: t.Data}
		if err := eval.Check(ec); err != nil {
			return c.errAt(fmt.Sprintf("tasks (%s)", t.Name), "%s", trimBadInput(err))
		}
	}
	return nil
}

// studyRecord is study.json.
type studyRecord struct {
	Config  json.RawMessage `json:"config"`
	File    string          `json:"config_file"`
	Machine bench.Machine   `json:"machine"`
	Gollm   string          `json:"gollm_version"`
	Created time.Time       `json:"created"`
}

func (r *runner) writeStudy() error {
	rec := studyRecord{Config: r.config, File: r.o.Config.file, Machine: r.machine, Gollm: r.o.Version, Created: time.Now().UTC()}
	return outdir.WriteFile(filepath.Join(r.o.Dir, bench.StudyFileName), func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	})
}

// plan lists every cell of the study in run order.
func (r *runner) plan() ([]*plan, error) {
	c := r.o.Config
	taskDigests := map[string]string{}
	for _, t := range c.Tasks {
		files, err := eval.DataFiles(t.Name, t.Prompt, t.Data)
		if err != nil {
			return nil, err
		}
		dirs := map[string]bool{}
		var paths []string
		for _, f := range files {
			d := f
			if st, err := os.Stat(f); err == nil && !st.IsDir() {
				d = filepath.Dir(f)
			}
			if !dirs[d] {
				dirs[d] = true
				paths = append(paths, d)
			}
		}
		dg, err := r.dg.tree(t.Data, paths)
		if err != nil {
			return nil, fmt.Errorf("task %s data: %w", t.Name, err)
		}
		taskDigests[t.Name] = dg
	}
	calib := map[string]string{}
	for i, f := range c.Calib {
		calib[fmt.Sprintf("%d:%s", i, filepath.Base(f))] = f
	}
	calibDigest, err := r.dg.files(calib)
	if err != nil {
		return nil, err
	}
	var plans []*plan
	for _, m := range c.Models {
		md, err := r.dg.model(m.Path)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		base := map[string]string{"model": md, "gollm": r.o.Version}
		family := familyOf(m.Path)
		row := func(method, modelDir string, extra map[string]string, sp *compress.Spec, ckey string) {
			add := func(kind, task, engine string, more map[string]string, t Task) {
				in := map[string]string{}
				for k, v := range base {
					in[k] = v
				}
				for k, v := range extra {
					in[k] = v
				}
				for k, v := range more {
					in[k] = v
				}
				plans = append(plans, &plan{kind: kind, model: m.Name, method: method, task: task, engine: engine,
					inputs: in, key: bench.KeyOf(kind, in), modelDir: modelDir, spec: sp, taskCfg: t, compressKey: ckey, family: family,
					unit: UnitID(m.Name, method)})
			}
			add(bench.KindFootprint, "", "", map[string]string{"method": method, "prompt_tokens": strconv.Itoa(PromptTokens)}, Task{})
			for _, t := range c.Tasks {
				opts, _ := json.Marshal(struct {
					Limit  int    `json:"limit"`
					Shots  int    `json:"shots"`
					Prompt string `json:"prompt"`
					Seqlen int    `json:"seqlen"`
				}{t.Limit, t.Shots, t.Prompt, t.Seqlen})
				add(bench.KindEval, t.Name, "", map[string]string{"method": method, "task": t.Name, "task_data": taskDigests[t.Name], "task_options": string(opts)}, t)
			}
			for _, e := range c.Engines {
				add(bench.KindSpeed, "", e, speedInputs(method, e, c), Task{})
			}
		}
		row(bench.Dense, m.Path, nil, nil, "")
		for i := range c.specs {
			sp := &c.specs[i]
			in := map[string]string{"model": md, "gollm": r.o.Version, "method": sp.String()}
			info, _ := compress.LookupMethod(sp.Method)
			if _, ok := info.Param("nsamples"); ok {
				in["calib"] = calibDigest
			}
			ckey := bench.KeyOf(bench.KindCompress, in)
			plans = append(plans, &plan{kind: bench.KindCompress, model: m.Name, method: sp.String(), inputs: in, key: ckey,
				modelDir: m.Path, spec: sp, family: family, unit: UnitID(m.Name, sp.String())})
			row(sp.String(), filepath.Join(r.o.Dir, bench.CheckpointsDir, ckey), map[string]string{"compressed": ckey}, sp, ckey)
		}
	}
	return plans, nil
}

// execute runs the plans in order; the eval cells of one row run in one
// child per distinct set of task options.
func (r *runner) execute(plans []*plan) error {
	for i := 0; i < len(plans); i++ {
		p := plans[i]
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if p.kind == bench.KindEval {
			j := i
			for j < len(plans) && plans[j].kind == bench.KindEval && plans[j].model == p.model && plans[j].method == p.method {
				j++
			}
			if err := r.evalRow(plans[i:j]); err != nil {
				return err
			}
			i = j - 1
			continue
		}
		if r.done(p) {
			continue
		}
		lk, ok, err := r.lock(p)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		err = r.runCell(p)
		r.locks.release(lk)
		if err != nil {
			return err
		}
	}
	return nil
}

// runCell computes p's cell (its lock held) and writes it.
func (r *runner) runCell(p *plan) error {
	var c *bench.Cell
	if dep := r.dependency(p); dep != "" {
		c = r.failedCell(p, dep, false)
	} else {
		start := time.Now()
		var err error
		switch p.kind {
		case bench.KindCompress:
			c, err = r.compress(p)
		case bench.KindFootprint:
			c, err = r.footprint(p)
		case bench.KindSpeed:
			if p.engine == EngineCPU {
				c, err = r.speed(p)
			} else {
				c, err = r.serveSpeed(p)
			}
		}
		if err != nil {
			return err // cancelled, or the study folder failed
		}
		c.Started, c.Seconds = start.UTC(), time.Since(start).Seconds()
	}
	return r.finish(c)
}

// lock takes p's cell lock. ok is false when p needs no run after all:
// another live process holds the lock (counted busy), or finished the
// cell between done and the lock (counted skipped).
func (r *runner) lock(p *plan) (lk *cellLock, ok bool, err error) {
	lk, holder, err := tryLock(r.o.Dir, p.key)
	if err != nil {
		return nil, false, err
	}
	if holder != nil {
		r.sum.Busy++
		r.progressf("[cell %d/%d] %s %s %s: computed by %s; left to it", r.index, r.total, p.model, p.method, p.what(), holder)
		return nil, false, nil
	}
	if c, ok := r.finished(p, false); ok {
		r.locks.release(lk)
		r.record(c)
		r.sum.Skipped++
		return nil, false, nil
	}
	r.locks.add(lk)
	if err := r.jr.add(EventStart, p.key, p.unit, ""); err != nil {
		r.progressf("journal: %v", err)
	}
	return lk, true, nil
}

// what names p's measurement in progress lines.
func (p *plan) what() string {
	switch {
	case p.task != "":
		return p.task
	case p.engine != "":
		return p.kind + " " + p.engine
	}
	return p.kind
}

// done reports whether p's cell is finished (and records it); a cell file
// that cannot be trusted is reported and p reruns.
func (r *runner) done(p *plan) bool {
	r.index++
	c, ok := r.finished(p, true)
	if !ok {
		return false
	}
	r.record(c)
	r.sum.Skipped++
	return true
}

// finished returns p's cell when it needs no run: its file exists, can
// be trusted and is complete (ok, or failed without --retry-failed; with
// its samples under --log-samples; a compression with its checkpoint).
// With say set, a file that cannot be trusted or a missing checkpoint is
// reported.
func (r *runner) finished(p *plan, say bool) (*bench.Cell, bool) {
	c, ok, err := readCell(r.o.Dir, p.key)
	if err != nil {
		if say {
			r.progressf("[cell %d/%d] %s: rerunning", r.index, r.total, err)
		}
		return nil, false
	}
	if !ok {
		return nil, false
	}
	if c.Status == bench.StatusFailed && r.o.RetryFailed {
		return nil, false
	}
	if p.kind == bench.KindEval && c.Status == bench.StatusOK && r.o.LogSamples {
		if _, err := os.Stat(filepath.Join(r.o.Dir, filepath.FromSlash(c.Samples))); c.Samples == "" || err != nil {
			return nil, false // run again for its per-sample records
		}
	}
	if p.kind == bench.KindCompress && c.Status == bench.StatusOK {
		if _, err := os.Stat(filepath.Join(r.o.Dir, c.Checkpoint, "config.json")); err != nil {
			if say {
				r.progressf("[cell %d/%d] %s %s: checkpoint missing, compressing again", r.index, r.total, p.model, p.method)
			}
			return nil, false
		}
	}
	return c, true
}

// record keeps c as the study's cell of its key (and a row's parameter
// count, which the row's other cells carry).
func (r *runner) record(c *bench.Cell) {
	r.results[c.Key] = c
	if c.Kind == bench.KindFootprint && c.Params > 0 {
		r.params[c.Model+"\x00"+c.Method] = c.Params
	}
}

// dependency returns why p cannot run: its compression failed.
func (r *runner) dependency(p *plan) string {
	if p.compressKey == "" {
		return ""
	}
	c := r.results[p.compressKey]
	if c == nil {
		return "compression cell " + p.compressKey + " missing"
	}
	if c.Status != bench.StatusOK {
		return "compression failed: " + c.Error
	}
	return ""
}

// newCell starts p's cell.
func (r *runner) newCell(p *plan) *bench.Cell {
	return &bench.Cell{Schema: bench.CellSchema, Key: p.key, Kind: p.kind, Model: p.model, Method: p.method,
		Task: p.task, Engine: p.engine, Inputs: p.inputs, Status: bench.StatusOK, Config: r.config,
		Machine: r.machine, Gollm: r.o.Version, Family: p.family, Params: r.params[p.model+"\x00"+p.method]}
}

func (r *runner) failedCell(p *plan, msg string, badInput bool) *bench.Cell {
	c := r.newCell(p)
	c.Status, c.Error, c.BadInput = bench.StatusFailed, msg, badInput
	c.Started = time.Now().UTC()
	return c
}

// finish writes c and reports it.
func (r *runner) finish(c *bench.Cell) error {
	if err := writeCell(r.o.Dir, c); err != nil {
		return err
	}
	if err := r.jr.add(EventWritten, c.Key, UnitID(c.Model, c.Method), c.Status); err != nil {
		r.progressf("journal: %v", err)
	}
	r.record(c)
	r.sum.Ran++
	what := c.Task
	if what == "" {
		what = c.Kind
		if c.Engine != "" {
			what += " " + c.Engine
		}
	}
	status := c.Status
	if c.Status == bench.StatusFailed {
		status += ": " + c.Error
	}
	r.progressf("[cell %d/%d] %s %s %s %s %.1f s", r.index, r.total, c.Model, c.Method, what, status, c.Seconds)
	return nil
}

func (r *runner) progressf(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, format+"\n", args...)
	}
}

// childResult is a finished child process.
type childResult struct {
	stdout  []byte
	errLine string // the last line of its stderr
	code    int
	maxRSS  int64
}

// child runs gollm with args. err is set only when ctx was cancelled or
// the process could not start; a failing command is a result.
func (r *runner) child(args ...string) (*childResult, error) {
	if r.o.Config.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(r.o.Config.Threads))
	}
	cmd := exec.CommandContext(r.ctx, r.o.Gollm, args...)
	// On cancel the child gets SIGINT, as from Ctrl-C, so that it removes
	// its staging folders; it is killed if it has not exited 10 s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stdout bytes.Buffer
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stop := r.heartbeat(args[0], &stderr)
	runErr := cmd.Run()
	stop()
	if r.ctx.Err() != nil {
		return nil, r.ctx.Err()
	}
	res := &childResult{stdout: stdout.Bytes(), errLine: lastLine(stderr.String())}
	if cmd.ProcessState == nil {
		return nil, fmt.Errorf("gollm %s: %w", args[0], runErr)
	}
	if interrupted(cmd.ProcessState, stderr.String()) {
		// Stopped by a signal meant for the whole run (Ctrl-C, Slurm's
		// scancel), which may reach the child before this process has
		// cancelled ctx: not the cell's result.
		return nil, fmt.Errorf("gollm %s: %w", args[0], ErrInterrupted)
	}
	res.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.maxRSS = int64(ru.Maxrss) * 1024 // kB on Linux
	}
	if res.errLine == "" && runErr != nil {
		res.errLine = runErr.Error()
	}
	return res, nil
}

// ErrInterrupted is a run stopped by a signal (SIGINT, SIGTERM, SIGHUP)
// that reached a child: no cell is written for it.
var ErrInterrupted = errors.New("interrupted by a signal; no cell was written for it")

// interrupted reports whether a child ended because of an interrupt: killed
// by SIGINT, SIGTERM or SIGHUP, or exited after saying it was interrupted
// (gollm's own handler). A SIGKILL (the OOM killer) is a failure.
func interrupted(ps *os.ProcessState, stderr string) bool {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		switch ws.Signal() {
		case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
			return true
		}
	}
	return !ps.Success() && strings.Contains(stderr, interruptedLine)
}

// interruptedLine is what gollm prints on its first SIGINT or SIGTERM
// (cmd/gollm main).
const interruptedLine = "gollm: interrupted; stopping"

// heartbeatEvery is how often a long-running child's progress is shown.
var heartbeatEvery = 30 * time.Second

// heartbeat shows, every heartbeatEvery while a child runs, how long it
// has run and the last line of its stderr (its own progress), so that a
// cell of a large model is not silent for minutes. It returns the stop
// function.
func (r *runner) heartbeat(command string, stderr *lockedBuffer) (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	start := time.Now()
	t := time.NewTicker(heartbeatEvery)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-t.C:
				line := lastLine(strings.ReplaceAll(stderr.String(), "\r", "\n"))
				r.progressf("  gollm %s running for %s: %s", command, time.Since(start).Round(time.Second), line)
			}
		}
	}()
	return func() {
		t.Stop()
		close(done)
		<-finished
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// fail turns a failed child into a failed cell of p.
func (r *runner) fail(p *plan, res *childResult) *bench.Cell {
	msg := res.errLine
	if msg == "" {
		msg = fmt.Sprintf("exit code %d", res.code)
	}
	return r.failedCell(p, msg, res.code == 2)
}

// compress runs gollm compress into the study's checkpoint folder.
func (r *runner) compress(p *plan) (*bench.Cell, error) {
	out := filepath.Join(r.o.Dir, bench.CheckpointsDir, p.key)
	args := []string{"compress", "--model", p.modelDir, "--method", p.spec.String(), "--out", out, "--json"}
	if info, _ := compress.LookupMethod(p.spec.Method); hasParam(info, "nsamples") {
		args = append(args, "--calib", strings.Join(r.o.Config.Calib, ","))
	}
	res, err := r.child(args...)
	if err != nil {
		return nil, err
	}
	if res.code != 0 {
		return r.fail(p, res), nil
	}
	var rec compress.Record
	if err := json.Unmarshal(res.stdout, &rec); err != nil {
		return r.failedCell(p, "gollm compress printed no record: "+err.Error(), false), nil
	}
	c := r.newCell(p)
	c.Checkpoint = filepath.ToSlash(filepath.Join(bench.CheckpointsDir, p.key))
	c.Result = json.RawMessage(bytes.TrimSpace(res.stdout))
	c.Metrics = map[string]float64{"compress_seconds": rec.CompressSeconds, "wall_seconds": rec.WallSeconds,
		"peak_rss_bytes": float64(rec.PeakRSSBytes), "peak_device_bytes": float64(rec.PeakDeviceBytes),
		"child_max_rss_bytes": float64(res.maxRSS)}
	return c, nil
}

func hasParam(info compress.MethodInfo, key string) bool {
	_, ok := info.Param(key)
	return ok
}

// modelInfo is what gollm info --json says of a model.
type modelInfo struct {
	MaxPos int `json:"max_position_embeddings"`
	Vocab  int `json:"vocab"`
	Stats  struct {
		Params int64 `json:"params"`
	} `json:"stats"`
}

// info runs gollm info on p's model; cell is set when it failed.
func (r *runner) info(p *plan) (*modelInfo, *bench.Cell, error) {
	res, err := r.child("info", "--model", p.modelDir, "--json")
	if err != nil {
		return nil, nil, err
	}
	if res.code != 0 {
		return nil, r.fail(p, res), nil
	}
	var mi modelInfo
	if err := json.Unmarshal(res.stdout, &mi); err != nil || mi.MaxPos < 2 || mi.Vocab < 1 {
		return nil, r.failedCell(p, fmt.Sprintf("gollm info: unexpected output (%v)", err), false), nil
	}
	return &mi, nil, nil
}

// promptIDs returns the n token ids of the footprint and speed prompts:
// fixed, spread over the vocabulary.
func promptIDs(n, vocab int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa((i*7919 + 11) % vocab)
	}
	return strings.Join(ids, ",")
}

// footprint measures a model's inference consumption (Track 4).
func (r *runner) footprint(p *plan) (*bench.Cell, error) {
	mi, failed, err := r.info(p)
	if err != nil || failed != nil {
		return failed, err
	}
	n := min(PromptTokens, mi.MaxPos-1)
	res, err := r.child("generate", "--model", p.modelDir, "--ids", promptIDs(n, mi.Vocab), "--max-new-tokens", "1", "--greedy", "--ignore-eos", "--json")
	if err != nil {
		return nil, err
	}
	if res.code != 0 {
		return r.fail(p, res), nil
	}
	files := map[string]int64{}
	var weights int64
	ents, err := os.ReadDir(p.modelDir)
	if err != nil {
		return r.failedCell(p, err.Error(), false), nil
	}
	for _, e := range ents {
		st, err := e.Info()
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		files[e.Name()] = st.Size()
		if strings.HasSuffix(e.Name(), ".safetensors") {
			weights += st.Size()
		}
	}
	cfgJSON, err := os.ReadFile(filepath.Join(p.modelDir, "config.json"))
	if err != nil || !json.Valid(cfgJSON) {
		return r.failedCell(p, "config.json unreadable", true), nil
	}
	result, err := json.Marshal(struct {
		Config       json.RawMessage  `json:"config"`
		Spec         string           `json:"spec"`
		Files        map[string]int64 `json:"files"`
		PromptTokens int              `json:"prompt_tokens"`
	}{json.RawMessage(cfgJSON), p.method, files, n})
	if err != nil {
		return nil, err
	}
	c := r.newCell(p)
	c.Params = mi.Stats.Params
	c.Result = result
	c.Metrics = map[string]float64{"eval_peak_rss_bytes": float64(res.maxRSS), "checkpoint_bytes": float64(weights), "params": float64(mi.Stats.Params)}
	return c, nil
}

// speedRun is the part of gollm generate --json a speed cell keeps.
type speedRun struct {
	PromptTokens int     `json:"prompt_tokens"`
	NewTokens    int     `json:"new_tokens"`
	PrefillTokS  float64 `json:"prefill_tokens_per_s"`
	DecodeTokS   float64 `json:"decode_tokens_per_s"`
}

// speed measures prefill and decode tokens/s on gollm's CPU engine, the
// median of SpeedRuns runs (Track 5).
func (r *runner) speed(p *plan) (*bench.Cell, error) {
	mi, failed, err := r.info(p)
	if err != nil || failed != nil {
		return failed, err
	}
	n := min(PromptTokens, mi.MaxPos-NewTokens)
	if n < 1 {
		return r.failedCell(p, fmt.Sprintf("the model's context of %d tokens leaves no room for a prompt and %d new tokens", mi.MaxPos, NewTokens), true), nil
	}
	var runs []speedRun
	for i := 0; i < SpeedRuns; i++ {
		res, err := r.child("generate", "--model", p.modelDir, "--ids", promptIDs(n, mi.Vocab), "--max-new-tokens", strconv.Itoa(NewTokens), "--greedy", "--ignore-eos", "--json")
		if err != nil {
			return nil, err
		}
		if res.code != 0 {
			return r.fail(p, res), nil
		}
		var sr speedRun
		if err := json.Unmarshal(res.stdout, &sr); err != nil {
			return r.failedCell(p, "gollm generate: unexpected output: "+err.Error(), false), nil
		}
		runs = append(runs, sr)
	}
	med := func(get func(speedRun) float64) float64 {
		v := make([]float64, len(runs))
		for i, s := range runs {
			v[i] = get(s)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	result, err := json.Marshal(struct {
		PromptTokens int        `json:"prompt_tokens"`
		NewTokens    int        `json:"new_tokens"`
		Threads      int        `json:"threads"`
		Runs         []speedRun `json:"runs"`
	}{n, NewTokens, r.machine.Threads, runs})
	if err != nil {
		return nil, err
	}
	c := r.newCell(p)
	c.Params = mi.Stats.Params
	c.Result = result
	c.Metrics = map[string]float64{"prefill_tokens_per_second": med(func(s speedRun) float64 { return s.PrefillTokS }),
		"decode_tokens_per_second": med(func(s speedRun) float64 { return s.DecodeTokS })}
	return c, nil
}

// evalRow runs the pending eval cells of one row: one gollm eval child
// per distinct set of task options, each cell one task of its report.
func (r *runner) evalRow(ps []*plan) error {
	type group struct {
		opts  Task
		plans []*plan
	}
	var groups []*group
	for _, p := range ps {
		if r.done(p) {
			continue
		}
		r.index-- // counted again when written
		o := p.taskCfg
		o.Name = ""
		var g *group
		for _, x := range groups {
			if x.opts == o {
				g = x
			}
		}
		if g == nil {
			g = &group{opts: o}
			groups = append(groups, g)
		}
		g.plans = append(g.plans, p)
	}
	for _, g := range groups {
		if err := r.evalGroup(g.opts, g.plans); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) evalGroup(o Task, ps []*plan) error {
	var locked []*plan
	for _, p := range ps {
		lk, ok, err := r.lock(p)
		if err != nil {
			return err
		}
		if !ok {
			r.index++
			continue
		}
		defer r.locks.release(lk)
		locked = append(locked, p)
	}
	if ps = locked; len(ps) == 0 {
		return nil
	}
	start := time.Now()
	if dep := r.dependency(ps[0]); dep != "" {
		for _, p := range ps {
			r.index++
			if err := r.finish(r.failedCell(p, dep, false)); err != nil {
				return err
			}
		}
		return nil
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.task)
	}
	args := []string{"eval", "--model", ps[0].modelDir, "--tasks", strings.Join(names, ","), "--data", o.Data,
		"--limit", strconv.Itoa(o.Limit), "--shots", strconv.Itoa(o.Shots), "--seqlen", strconv.Itoa(o.Seqlen), "--json"}
	if o.Prompt != "" {
		args = append(args, "--prompt", o.Prompt)
	}
	var samplesPath string
	if r.o.LogSamples {
		f, err := os.CreateTemp(filepath.Join(r.o.Dir, bench.SamplesDir), ".eval-*.jsonl")
		if err != nil {
			return err
		}
		samplesPath = f.Name()
		f.Close()
		defer os.Remove(samplesPath)
		args = append(args, "--log-samples", samplesPath)
	}
	res, err := r.child(args...)
	if err != nil {
		return err
	}
	var rep eval.Report
	parsed := json.Unmarshal(res.stdout, &rep) == nil
	results := map[string]*eval.TaskResult{}
	failures := map[string]*eval.TaskFailure{}
	if parsed {
		for _, t := range rep.Results {
			results[t.Task] = t
		}
		for _, f := range rep.Failed {
			failures[f.Task] = f
		}
	}
	var samples map[string][][]byte
	if samplesPath != "" && parsed {
		if samples, err = splitSamples(samplesPath); err != nil {
			return err
		}
	}
	for _, p := range ps {
		r.index++
		var c *bench.Cell
		switch t, f := results[p.task], failures[p.task]; {
		case t != nil:
			c = r.newCell(p)
			c.Metrics = map[string]float64{}
			for k, v := range t.Metrics {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					c.Metrics[k] = v
				}
			}
			if c.Result, err = json.Marshal(t); err != nil {
				return err
			}
			c.Seconds = t.Seconds
			if lines, ok := samples[p.task]; ok {
				rel := filepath.ToSlash(filepath.Join(bench.SamplesDir, p.key+".jsonl"))
				if err := outdir.WriteFile(filepath.Join(r.o.Dir, rel), func(f *os.File) error {
					for _, l := range lines {
						if _, err := f.Write(append(l, '\n')); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					return err
				}
				c.Samples = rel
			}
		case f != nil:
			c = r.failedCell(p, f.Error, f.BadInput)
			c.Seconds = f.Seconds
		default:
			c = r.fail(p, res)
			c.Seconds = time.Since(start).Seconds()
		}
		c.Started = start.UTC()
		if err := r.finish(c); err != nil {
			return err
		}
	}
	return nil
}

// splitSamples reads gollm eval --log-samples lines and returns each
// task's lines as bench.Sample JSON (the task field dropped).
func splitSamples(path string) (map[string][][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	for sc.Scan() {
		var l eval.SampleLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		b, err := json.Marshal(l.Sample)
		if err != nil {
			return nil, err
		}
		out[l.Task] = append(out[l.Task], b)
	}
	return out, sc.Err()
}

// familyOf reads a model folder's model_type.
func familyOf(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return ""
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.ModelType
}

// machineInfo describes this machine.
func machineInfo(threads int) bench.Machine {
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	return bench.Machine{CPU: cpuModel(), Cores: runtime.NumCPU(), Threads: threads,
		MemoryB: procfs.KB("/proc/meminfo", "MemTotal:") * 1024, OS: runtime.GOOS, Arch: runtime.GOARCH,
		Go: runtime.Version(), Device: "cpu"}
}

// cpuModel reads the CPU model name from /proc/cpuinfo ("" elsewhere).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
