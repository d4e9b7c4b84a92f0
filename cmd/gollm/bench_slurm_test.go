package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/bench/study"
)

// slowCompress makes the test binary, acting as gollm, sleep 4 s before
// a gollm compress of one model and method ("METHOD-PREFIX@MODEL-FOLDER-NAME"):
// a cell that lasts long enough to be cancelled in the middle.
const slowCompress = "GOLLM_TEST_SLOW_COMPRESS"

// slowDown applies slowCompress to the command line args.
func slowDown(args []string) {
	method, model, ok := strings.Cut(os.Getenv(slowCompress), "@")
	if !ok || len(args) == 0 || args[0] != "compress" {
		return
	}
	var m, d string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--method":
			m = args[i+1]
		case "--model":
			d = filepath.Base(args[i+1])
		}
	}
	if strings.HasPrefix(m, method) && d == model {
		time.Sleep(4 * time.Second)
	}
}

// miniSlurm is a single-node Slurm started in a temporary folder: munged,
// slurmctld and slurmd, the node being this machine with 2 CPUs.
type miniSlurm struct {
	dir   string
	procs []*exec.Cmd
}

// startSlurm starts a single-node Slurm, or skips the test saying why it
// cannot (not root, or slurm-wlm and munge not installed: make slurm).
// SLURM_CONF points the Slurm commands at it for the rest of the test;
// the daemons (and any job left) are stopped when the test ends, failed
// or not.
func startSlurm(t *testing.T) *miniSlurm {
	t.Helper()
	var missing []string
	for _, b := range []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		t.Skipf("no Slurm on this machine (%s not found; `make slurm` installs Debian's slurm-wlm and munge)", strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		t.Skip("starting slurmd needs root (CI runs as root)")
	}
	// The munge socket path must fit a sockaddr_un (108 bytes).
	dir, err := os.MkdirTemp("/tmp", "gollm-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	s := &miniSlurm{dir: dir}
	t.Cleanup(func() { s.stop(t) })
	for _, d := range []string{"state", "spool", "log", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 1024)
	for i := range key {
		key[i] = byte(i*7919 + 13)
	}
	seed := sha256.Sum256([]byte(dir + time.Now().String()))
	copy(key, seed[:])
	if err := os.WriteFile(filepath.Join(dir, "munge.key"), key, 0o400); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "munge.sock")
	s.start(t, "munged", "-F", "-f", "-S", sock, "--key-file="+filepath.Join(dir, "munge.key"),
		"--log-file="+filepath.Join(dir, "log", "munged.log"), "--pid-file="+filepath.Join(dir, "run", "munged.pid"),
		"--seed-file="+filepath.Join(dir, "state", "munge.seed"))
	waitFor(t, 10*time.Second, "munged's socket", func() bool { _, err := os.Stat(sock); return err == nil })

	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	conf := fmt.Sprintf(`ClusterName=gollmtest
SlurmctldHost=%[1]s
SlurmctldPort=%[3]d
SlurmdPort=%[4]d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=%[2]s/run/munge.sock
CredType=cred/munge
StateSaveLocation=%[2]s/state
SlurmdSpoolDir=%[2]s/spool
SlurmctldPidFile=%[2]s/run/slurmctld.pid
SlurmdPidFile=%[2]s/run/slurmd.pid
SlurmctldLogFile=%[2]s/log/slurmctld.log
SlurmdLogFile=%[2]s/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=5
InactiveLimit=0
MinJobAge=600
NodeName=%[1]s NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP
`, host, dir, freePort(t), freePort(t))
	confPath := filepath.Join(dir, "slurm.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_CONF", confPath)
	s.start(t, "slurmctld", "-D", "-c", "-f", confPath)
	s.start(t, "slurmd", "-D", "-f", confPath)
	waitFor(t, 30*time.Second, "the node to be idle", func() bool {
		out, _ := exec.Command("sinfo", "-h", "-o", "%t").Output()
		return strings.TrimSpace(string(out)) == "idle"
	})
	return s
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *miniSlurm) start(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s.procs = append(s.procs, cmd)
}

// stop cancels every job of the test's Slurm, waits for them to leave,
// then ends the daemons (slurmd, slurmctld, munged); on failure it shows
// the daemons' logs.
func (s *miniSlurm) stop(t *testing.T) {
	if out, _ := exec.Command("squeue", "-h", "-o", "%i").Output(); len(strings.TrimSpace(string(out))) > 0 {
		exec.Command("scancel", "--full", "--user", "root").Run()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			out, err := exec.Command("squeue", "-h", "-o", "%i").Output()
			if err != nil || len(strings.TrimSpace(string(out))) == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	if t.Failed() {
		for _, l := range []string{"slurmctld.log", "slurmd.log"} {
			b, _ := os.ReadFile(filepath.Join(s.dir, "log", l))
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("%s (last lines):\n%s", l, strings.Join(lines[max(0, len(lines)-15):], "\n"))
		}
	}
	os.RemoveAll(s.dir)
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitJobs waits until no task of job is in the queue.
func waitJobs(t *testing.T, job string, d time.Duration) {
	t.Helper()
	waitFor(t, d, "job "+job+" to finish", func() bool {
		out, err := exec.Command("squeue", "-h", "-j", job, "-o", "%i").Output()
		return err != nil || len(strings.TrimSpace(string(out))) == 0
	})
}

// slurmStudyConfig is the Slurm test's study: two fixture models, dense
// and three methods (magnitude, RTN with groups of 8, RTN with groups of
// 32, which llama3-tiny refuses: a failed unit), two tasks with limits.
func slurmStudyConfig(t *testing.T, dir string) string {
	t.Helper()
	abs := func(p string) string { return absPath(t, p) }
	y := "models:\n  - " + abs(evalModel) + "\n  - " + abs("../../testdata/opt-tiny") + "\n" +
		"methods:\n  - magnitude:sparsity=0.5\n  - rtn:bits=4,group=8\n  - rtn:bits=4,group=32\n" +
		"data: " + abs(evalData) + "\n" +
		"tasks:\n  - {name: arc_easy, limit: 4}\n  - {name: wikitext2, limit: 2, seqlen: 64}\n" +
		"threads: 1\n"
	path := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// deterministic is what two runs of the same cell must agree on: status,
// error, the eval metrics, the checkpoint's bytes and parameter count
// (times and memory peaks are measurements of the run, not results).
func deterministic(t *testing.T, dir string, c *bench.Cell) string {
	t.Helper()
	m := map[string]any{"status": c.Status, "error": c.Error, "kind": c.Kind, "model": c.Model, "method": c.Method, "task": c.Task}
	switch c.Kind {
	case bench.KindEval:
		m["metrics"] = c.Metrics
	case bench.KindFootprint:
		m["checkpoint_bytes"], m["params"] = c.Metrics["checkpoint_bytes"], c.Metrics["params"]
	case bench.KindCompress:
		if c.Status == bench.StatusOK {
			b, err := os.ReadFile(filepath.Join(dir, c.Checkpoint, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			m["weights"] = hex.EncodeToString(sum[:])
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func slurmStatus(t *testing.T, out string) *study.StatusReport {
	t.Helper()
	code, stdout, stderr := runCLI("bench", "--config", filepath.Join(filepath.Dir(out), "study.yaml"), "--out", out, "--status", "--json")
	if code != 0 {
		t.Fatalf("--status: exit %d: %s", code, stderr)
	}
	var rep study.StatusReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--status: %v: %s", err, stdout)
	}
	return &rep
}

func submit(t *testing.T, cfg, out string, extra ...string) *study.SubmitResult {
	t.Helper()
	code, stdout, stderr := runCLI(append([]string{"bench", "--executor", "slurm", "--config", cfg, "--out", out, "--json"}, extra...)...)
	if code != 0 {
		t.Fatalf("--executor slurm: exit %d: %s", code, stderr)
	}
	var res study.SubmitResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("submission: %v: %s", err, stdout)
	}
	return &res
}

// TestBenchSlurm runs a study through a real single-node Slurm (started
// here: Debian's slurm-wlm and munge) and checks that it gives the local
// runner's results: one array task is cancelled in the middle of a cell
// and one cell file corrupted; a resubmission runs exactly the units they
// left unfinished, and every cell ends computed once (the journal), with
// the local run's metrics.
func TestBenchSlurm(t *testing.T) {
	startSlurm(t)
	t.Setenv(asGollm, "1")
	t.Setenv(slowCompress, "magnitude@llama3-tiny")
	dir := t.TempDir()
	cfg := slurmStudyConfig(t, dir)

	// The reference: the local executor.
	local := filepath.Join(dir, "local")
	t0 := time.Now()
	code, stdout, stderr := runCLI("bench", "--config", cfg, "--out", local, "--json")
	localTime := time.Since(t0)
	if code != 0 {
		t.Fatalf("local run: exit %d: %s", code, stderr)
	}
	want := readCells(t, local)
	if s := benchSummary(t, stdout); s.Ran != len(want) || len(want) < 20 {
		t.Fatalf("local run: %+v, %d cells", s, len(want))
	}

	// Through Slurm: 8 units (2 models × dense and 3 methods), dense first.
	st := filepath.Join(dir, "slurm")
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(st, study.SlurmDir, "logs", "*.out"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", filepath.Base(l), b)
		}
	})
	t1 := time.Now()
	res := submit(t, cfg, st)
	if len(res.Units) != 8 || !strings.HasSuffix(res.Units[0], "/dense") || !strings.HasSuffix(res.Units[1], "/dense") || res.Job == "" {
		t.Fatalf("first submission: %+v", res)
	}
	script, err := os.ReadFile(res.Script)
	if err != nil || !strings.Contains(string(script), "#SBATCH --array=0-7\n") {
		t.Fatalf("script %s: %v\n%s", res.Script, err, script)
	}

	// Cancel the array task compressing llama3-tiny with magnitude while
	// it does (its compression sleeps 4 s first): no cell of it may be
	// written, and its lock must not block the resubmission.
	var victim *bench.Cell
	for _, c := range want {
		if c.Kind == bench.KindCompress && c.Model == "llama3-tiny" && strings.HasPrefix(c.Method, "magnitude") {
			victim = c
		}
	}
	if victim == nil {
		t.Fatal("no magnitude compression in the local run")
	}
	var holder *study.Holder
	waitFor(t, 90*time.Second, "the magnitude compression to start", func() bool {
		holder = study.LockHolder(st, victim.Key)
		return holder != nil && holder.Job != ""
	})
	time.Sleep(500 * time.Millisecond) // well inside the 4 s compression
	if out, err := exec.Command("scancel", holder.Job).CombinedOutput(); err != nil {
		t.Fatalf("scancel %s: %v: %s", holder.Job, err, out)
	}
	waitJobs(t, res.Job, 120*time.Second)
	firstPass := time.Since(t1)
	if _, err := os.Stat(filepath.Join(st, bench.CellsDir, victim.Key+".json")); err == nil {
		t.Fatal("the cancelled compression wrote its cell")
	}

	// The study is partly done: --status and the report say what is missing.
	rep := slurmStatus(t, st)
	victimUnit := study.UnitID(victim.Model, victim.Method)
	for _, u := range rep.Units {
		if u.ID == victimUnit && u.State != study.StatePending {
			t.Errorf("cancelled unit %s: state %s (slurm %s %s), want pending", u.ID, u.State, u.Job, u.SlurmState)
		}
		if u.ID != victimUnit && u.State == study.StatePending {
			t.Errorf("unit %s pending after the array ran", u.ID)
		}
	}
	code, stdout, stderr = runCLI("report", "--results", st, "--format", "json")
	if code != 0 {
		t.Fatalf("report on the partial study: exit %d: %s", code, stderr)
	}
	var sum bench.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	pending := 0
	for _, p := range sum.Problems {
		if p.Kind == bench.ProblemPending {
			pending++
			if p.Model != victim.Model || p.Method != victim.Method {
				t.Errorf("pending problem for %s %s, want only the cancelled unit", p.Model, p.Method)
			}
		}
	}
	if pending != 1 || sum.Study.Cells[bench.ProblemPending] == 0 {
		t.Errorf("report of the partial study: %d pending problems, %v cells", pending, sum.Study.Cells)
	}

	// Corrupt a finished cell of another unit, then resubmit: exactly the
	// cancelled unit and the corrupted one run again; the failed unit
	// (llama3-tiny refuses RTN groups of 32) is not resubmitted.
	var corrupt *bench.Cell
	for _, c := range readCells(t, st) {
		if c.Kind == bench.KindEval && c.Status == bench.StatusOK && c.Method == bench.Dense && c.Model == "opt-tiny" {
			corrupt = c
		}
	}
	if corrupt == nil {
		t.Fatal("no opt-tiny dense eval cell to corrupt")
	}
	if err := os.WriteFile(filepath.Join(st, bench.CellsDir, corrupt.Key+".json"), []byte(`{"schema": 1, "key": "`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(slowCompress, "")
	t2 := time.Now()
	res2 := submit(t, cfg, st)
	wantUnits := []string{victimUnit, study.UnitID(corrupt.Model, corrupt.Method)}
	sort.Strings(wantUnits)
	got := append([]string(nil), res2.Units...)
	sort.Strings(got)
	if !reflect.DeepEqual(got, wantUnits) {
		t.Fatalf("resubmission: units %v, want %v", res2.Units, wantUnits)
	}
	waitJobs(t, res2.Job, 120*time.Second)
	secondPass := time.Since(t2)

	// Everything as the local run, each cell written once (the corrupted
	// one twice), no lock left, nothing more to submit.
	gotCells := readCells(t, st)
	if len(gotCells) != len(want) {
		t.Errorf("%d cells, want %d", len(gotCells), len(want))
	}
	for k, w := range want {
		g := gotCells[k]
		if g == nil {
			t.Errorf("cell %s (%s %s %s %s) missing", k, w.Kind, w.Model, w.Method, w.Task)
			continue
		}
		if a, b := deterministic(t, local, w), deterministic(t, st, g); a != b {
			t.Errorf("cell %s differs:\nlocal %s\nslurm %s", k, a, b)
		}
	}
	journal, err := study.ReadJournal(st)
	if err != nil {
		t.Fatal(err)
	}
	written, started := map[string]int{}, map[string]int{}
	jobs := map[string]bool{}
	for _, e := range journal {
		switch e.Event {
		case study.EventWritten:
			written[e.Key]++
		case study.EventStart:
			started[e.Key]++
		}
		jobs[e.Job] = true
	}
	for k := range want {
		n := 1
		if k == corrupt.Key {
			n = 2
		}
		if written[k] != n {
			t.Errorf("cell %s written %d times, want %d", k, written[k], n)
		}
	}
	if started[victim.Key] != 2 || written[victim.Key] != 1 {
		t.Errorf("the cancelled compression: started %d, written %d times; want 2 and 1", started[victim.Key], written[victim.Key])
	}
	if jobs[""] {
		t.Error("a journal entry without a Slurm job: a cell ran outside the array")
	}
	if locks, _ := os.ReadDir(filepath.Join(st, study.LocksDir)); len(locks) != 0 {
		t.Errorf("%d lock files left", len(locks))
	}
	rep = slurmStatus(t, st)
	failedUnits := map[string]bool{}
	for _, c := range want {
		if c.Status == bench.StatusFailed {
			failedUnits[study.UnitID(c.Model, c.Method)] = true
		}
	}
	if len(failedUnits) == 0 || rep.Counts[study.StateDone] != 8-len(failedUnits) || rep.Counts[study.StateFailed] != len(failedUnits) {
		t.Errorf("final status: %v, want %d failed units (%v), the rest done", rep.Counts, len(failedUnits), failedUnits)
	}
	if res3 := submit(t, cfg, st); res3.Job != "" || len(res3.Units) != 0 {
		t.Errorf("a third submission submitted %v", res3.Units)
	}
	t.Logf("wall time: local %.1f s; slurm first array %.1f s (8 units, 2 at once, one cancelled), resubmission %.1f s (2 units)",
		localTime.Seconds(), firstPass.Seconds(), secondPass.Seconds())
}
