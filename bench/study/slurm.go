package study

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/outdir"
)

// SlurmDir holds the study's Slurm files: the job-array scripts
// (<stamp>.sbatch), submissions.jsonl (one line per sbatch: the job and the
// unit of each array index) and logs/ (each array task's output).
const SlurmDir = "slurm"

const submissionsFile = "submissions.jsonl"

// SlurmOptions are the #SBATCH options of a study's job array: the
// config's `slurm:` section, overridden by gollm bench's flags.
type SlurmOptions struct {
	Partition string `yaml:"partition,omitempty" json:"partition,omitempty"`
	// Gres is the generic resources of each array task ("gpu:1",
	// "gpu:a100:2").
	Gres    string `yaml:"gres,omitempty" json:"gres,omitempty"`
	Time    string `yaml:"time,omitempty" json:"time,omitempty"`
	Mem     string `yaml:"mem,omitempty" json:"mem,omitempty"`
	Account string `yaml:"account,omitempty" json:"account,omitempty"`
	// CPUsPerTask is each task's cores (0: Slurm's default); the cells'
	// threads follow the study's threads setting.
	CPUsPerTask int `yaml:"cpus_per_task,omitempty" json:"cpus_per_task,omitempty"`
	// MaxParallel caps the array tasks running at once (the array's %N;
	// 0: no cap).
	MaxParallel int `yaml:"max_parallel,omitempty" json:"max_parallel,omitempty"`
	// Sbatch holds extra #SBATCH lines ("--qos=long", "--constraint=a100").
	Sbatch []string `yaml:"sbatch,omitempty" json:"sbatch,omitempty"`
}

var (
	slurmTimeRe = regexp.MustCompile(`^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$`)
	slurmMemRe  = regexp.MustCompile(`^\d+[KMGT]?$`)
	slurmGresRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_.-]+){0,2}(,[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_.-]+){0,2})*$`)
	slurmNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$`)
)

// Check returns the first bad option as (field, message): field is the
// option's name as a flag takes it ("time", "gres", "sbatch"); "" when
// all are good. Slurm's own checks (a partition that does not exist) come
// from sbatch.
func (s *SlurmOptions) Check() (field, msg string) {
	switch {
	case s.Partition != "" && !slurmNameRe.MatchString(s.Partition):
		return "partition", fmt.Sprintf("%q: want a partition name (letters, digits, _ . -; several separated by commas)", s.Partition)
	case s.Account != "" && !slurmNameRe.MatchString(s.Account):
		return "account", fmt.Sprintf("%q: want an account name (letters, digits, _ . -)", s.Account)
	case s.Gres != "" && !slurmGresRe.MatchString(s.Gres):
		return "gres", fmt.Sprintf("%q: want NAME[:TYPE][:COUNT], e.g. gpu:1 or gpu:a100:2", s.Gres)
	case s.Time != "" && !slurmTimeRe.MatchString(s.Time):
		return "time", fmt.Sprintf("%q: want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS", s.Time)
	case s.Mem != "" && !slurmMemRe.MatchString(s.Mem):
		return "mem", fmt.Sprintf("%q: want a size in megabytes, or with a K, M, G or T suffix (e.g. 32G)", s.Mem)
	case s.CPUsPerTask < 0:
		return "cpus-per-task", fmt.Sprintf("%d: want ≥ 0 (0: Slurm's default)", s.CPUsPerTask)
	case s.MaxParallel < 0:
		return "max-parallel", fmt.Sprintf("%d: want ≥ 0 (0: no cap)", s.MaxParallel)
	}
	for _, l := range s.Sbatch {
		o := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#SBATCH"))
		switch {
		case strings.ContainsAny(l, "\r\n"):
			return "sbatch", fmt.Sprintf("%q: one #SBATCH line, without line breaks", l)
		case !strings.HasPrefix(o, "-") || len(o) < 2:
			return "sbatch", fmt.Sprintf("%q: want an sbatch option such as --qos=long", l)
		case strings.HasPrefix(o, "--array") || strings.HasPrefix(o, "-a"):
			return "sbatch", fmt.Sprintf("%q: gollm sets --array itself (max_parallel caps the tasks running at once)", l)
		}
	}
	return "", ""
}

// Merge returns s with the options set in flags replacing its own (extra
// #SBATCH lines are added).
func (s SlurmOptions) Merge(flags SlurmOptions) SlurmOptions {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&s.Partition, flags.Partition)
	set(&s.Gres, flags.Gres)
	set(&s.Time, flags.Time)
	set(&s.Mem, flags.Mem)
	set(&s.Account, flags.Account)
	if flags.CPUsPerTask != 0 {
		s.CPUsPerTask = flags.CPUsPerTask
	}
	if flags.MaxParallel != 0 {
		s.MaxParallel = flags.MaxParallel
	}
	s.Sbatch = append(append([]string(nil), s.Sbatch...), flags.Sbatch...)
	return s
}

// lines returns the #SBATCH lines of the options.
func (s *SlurmOptions) lines() []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, "#SBATCH --"+k+"="+v)
		}
	}
	add("partition", s.Partition)
	add("account", s.Account)
	add("gres", s.Gres)
	add("time", s.Time)
	add("mem", s.Mem)
	if s.CPUsPerTask > 0 {
		add("cpus-per-task", strconv.Itoa(s.CPUsPerTask))
	}
	for _, l := range s.Sbatch {
		out = append(out, "#SBATCH "+strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#SBATCH")))
	}
	return out
}

// Slurm runs Slurm's commands (sbatch, squeue, sacct) from PATH.
type Slurm struct {
	// Run runs a Slurm command and returns its stdout; nil: exec from
	// PATH. Tests replace it.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
}

func (q *Slurm) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if q.Run != nil {
		return q.Run(ctx, name, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := lastLine(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		if !strings.HasPrefix(msg, name+":") {
			msg = name + ": " + msg
		}
		return out, errors.New(msg)
	}
	return out, nil
}

// ErrNoSbatch is --executor slurm on a machine without sbatch.
var ErrNoSbatch = badinput.New("--executor slurm: sbatch not found on PATH (run gollm bench on a Slurm login node, or use --executor local)")

// ErrSlurmOption is a malformed Slurm option; ErrSbatchRefused a job
// sbatch calls invalid (a partition, account or gres the cluster does not
// have).
var (
	ErrSlurmOption   = badinput.New("bad Slurm option")
	ErrSbatchRefused = badinput.New("sbatch refused the job")
)

// Submission is one line of slurm/submissions.jsonl: a job array and the
// unit of each of its indices.
type Submission struct {
	Job       string    `json:"job"`
	Script    string    `json:"script"`
	Units     []string  `json:"units"`
	Submitted time.Time `json:"submitted"`
}

// SubmitOptions is one gollm bench --executor slurm.
type SubmitOptions struct {
	Options
	Slurm SlurmOptions
	// Command is what each array task runs, before --only UNIT: the gollm
	// executable and its bench arguments (config, study folder, flags),
	// with absolute paths; Workdir its working folder.
	Command []string
	Workdir string
	// Queue runs the Slurm commands (nil: from PATH).
	Queue *Slurm
}

// SubmitResult is what a submission did.
type SubmitResult struct {
	Folder string `json:"folder"`
	// Job is the Slurm job array's id ("" when nothing was pending).
	Job    string   `json:"job,omitempty"`
	Script string   `json:"script,omitempty"`
	Units  []string `json:"units"`
	// Counts is the study's units by state before the submission.
	Counts map[string]int `json:"counts"`
}

// Submit writes one job-array script for the study's pending units (and,
// with RetryFailed, its failed ones; never those running or queued), dense
// units first, and submits it with sbatch. Each array task runs
// Command --only UNIT: the local runner on that unit, into the shared
// study folder. With nothing to submit it returns a result without Job.
func Submit(ctx context.Context, o SubmitOptions) (*SubmitResult, error) {
	q := o.Queue
	if q == nil {
		q = &Slurm{}
	}
	if q.Run == nil {
		if _, err := exec.LookPath("sbatch"); err != nil {
			return nil, ErrNoSbatch
		}
	}
	if f, msg := o.Slurm.Check(); f != "" {
		return nil, fmt.Errorf("slurm %s %s: %w", f, msg, ErrSlurmOption)
	}
	st, err := Status(ctx, o.Options, q)
	if err != nil {
		return nil, err
	}
	res := &SubmitResult{Folder: o.Dir, Counts: st.Counts, Units: []string{}}
	for _, u := range st.Units {
		if u.State == StatePending || u.State == StateFailed && o.RetryFailed {
			res.Units = append(res.Units, u.ID)
		}
	}
	if len(res.Units) == 0 {
		return res, nil
	}
	dir := filepath.Join(o.Dir, SlurmDir)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	script := filepath.Join(dir, now.Format("20060102-150405.000000")+".sbatch")
	if err := outdir.WriteFile(script, func(f *os.File) error {
		_, err := f.WriteString(arrayScript(o, res.Units, dir, now))
		return err
	}); err != nil {
		return nil, err
	}
	out, err := q.run(ctx, "sbatch", "--parsable", script)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "invalid") {
			return nil, fmt.Errorf("%s (script %s): %w", err, script, ErrSbatchRefused)
		}
		return nil, fmt.Errorf("%v (script %s)", err, script)
	}
	job, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(job); err != nil {
		return nil, fmt.Errorf("sbatch printed %q, not a job id (script %s)", strings.TrimSpace(string(out)), script)
	}
	res.Job, res.Script = job, script
	sub, err := json.Marshal(Submission{Job: job, Script: script, Units: res.Units, Submitted: now})
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, submissionsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(append(sub, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// arrayScript is the job-array script of units.
func arrayScript(o SubmitOptions, units []string, dir string, now time.Time) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "# gollm bench --executor slurm: %d units of the study %s, written %s.\n", len(units), o.Dir, now.Format(time.RFC3339))
	b.WriteString("# Array task i runs unit i below with the local runner (gollm bench --only UNIT)\n# into the shared study folder; cells are locked and written atomically.\n")
	b.WriteString("#SBATCH --job-name=gollm-bench\n")
	arr := fmt.Sprintf("0-%d", len(units)-1)
	if o.Slurm.MaxParallel > 0 {
		arr += "%" + strconv.Itoa(o.Slurm.MaxParallel)
	}
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", arr)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(dir, "logs", "%A_%a.out"))
	if o.Workdir != "" {
		fmt.Fprintf(&b, "#SBATCH --chdir=%s\n", o.Workdir)
	}
	for _, l := range o.Slurm.lines() {
		b.WriteString(l + "\n")
	}
	b.WriteString("set -eu\nunits=(\n")
	for i, u := range units {
		fmt.Fprintf(&b, "  %s # %d\n", shellQuote(u), i)
	}
	b.WriteString(")\nexec")
	for _, a := range o.Command {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString(" --only \"${units[$SLURM_ARRAY_TASK_ID]}\"\n")
	return b.String()
}

// readSubmissions reads slurm/submissions.jsonl (none: nil).
func readSubmissions(studyDir string) ([]Submission, error) {
	f, err := os.Open(filepath.Join(studyDir, SlurmDir, submissionsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Submission
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for sc.Scan() {
		var s Submission
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Job != "" {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

// slurmTask is a unit's array task in its latest submission.
type slurmTask struct {
	job   string // JOBID_INDEX
	state string // squeue's or sacct's state; "" unknown
	inQ   bool   // listed by squeue
}

// running: the task runs (or is being set up or wound down).
func (t slurmTask) running() bool {
	switch t.state {
	case "RUNNING", "CONFIGURING", "COMPLETING", "STAGE_OUT", "SIGNALING":
		return t.inQ
	}
	return false
}

// queued: the task waits to run (PENDING, REQUEUED, SUSPENDED, …): any
// state squeue lists that is neither running nor one of the end states.
func (t slurmTask) queued() bool {
	switch t.state {
	case "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT":
		return false
	}
	return t.inQ && !t.running()
}

// unitTasks returns each submitted unit's array task of its latest
// submission with its state (squeue, then sacct for tasks that left the
// queue), and a note on what Slurm could say.
func (q *Slurm) unitTasks(studyDir string) (map[string]slurmTask, string) {
	subs, err := readSubmissions(studyDir)
	if err != nil {
		return nil, err.Error()
	}
	if len(subs) == 0 {
		return nil, "never submitted to Slurm"
	}
	tasks := map[string]slurmTask{}
	var jobs []string
	for _, s := range subs {
		jobs = append(jobs, s.Job)
		for i, u := range s.Units {
			tasks[u] = slurmTask{job: s.Job + "_" + strconv.Itoa(i)}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var notes []string
	out, err := q.run(ctx, "squeue", "-h", "-r", "-j", strings.Join(jobs, ","), "-o", "%F|%K|%T")
	if err != nil && !strings.Contains(err.Error(), "Invalid job id") {
		return tasks, "squeue failed (" + err.Error() + "): Slurm states unknown"
	}
	queued := parseQueue(out)
	out, err = q.run(ctx, "sacct", "-n", "-P", "-X", "-j", strings.Join(jobs, ","), "-o", "JobID,State")
	var acct map[string]string
	if err != nil {
		notes = append(notes, "squeue only (sacct: "+err.Error()+")")
	} else {
		acct = parseSacct(out)
		notes = append(notes, "squeue and sacct")
	}
	for u, t := range tasks {
		if s, ok := queued[t.job]; ok {
			t.state, t.inQ = s, true
		} else if s, ok := acct[t.job]; ok {
			t.state = s
		}
		tasks[u] = t
	}
	return tasks, strings.Join(notes, "; ")
}

// parseQueue reads squeue -h -r -o '%F|%K|%T' lines: job array id, task
// index, state; keyed JOBID_INDEX.
func parseQueue(out []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.TrimSpace(l), "|")
		if len(f) != 3 || f[0] == "" {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not an array task (N/A)
		}
		m[f[0]+"_"+f[1]] = f[2]
	}
	return m
}

// parseSacct reads sacct -n -P -X -o JobID,State lines ("12_3|CANCELLED by
// 0"); keyed JOBID_INDEX, the state's first word.
func parseSacct(out []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		id, state, ok := strings.Cut(strings.TrimSpace(l), "|")
		if !ok || !strings.Contains(id, "_") || strings.Contains(id, "[") {
			continue
		}
		if f := strings.Fields(state); len(f) > 0 {
			m[id] = f[0]
		}
	}
	return m
}
