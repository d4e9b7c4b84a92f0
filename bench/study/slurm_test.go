package study

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/bench"
)

func TestSlurmOptionsCheck(t *testing.T) {
	cases := []struct {
		name  string
		o     SlurmOptions
		field string
	}{
		{"empty", SlurmOptions{}, ""},
		{"all good", SlurmOptions{Partition: "gpu,gpu-long", Gres: "gpu:a100:2", Time: "1-12:00:00", Mem: "64G", Account: "proj_1", CPUsPerTask: 8, MaxParallel: 4, Sbatch: []string{"--qos=long", "#SBATCH --constraint=a100"}}, ""},
		{"time minutes", SlurmOptions{Time: "90"}, ""},
		{"time MM:SS", SlurmOptions{Time: "10:00"}, ""},
		{"time words", SlurmOptions{Time: "two hours"}, "time"},
		{"time hours suffix", SlurmOptions{Time: "4h"}, "time"},
		{"mem lowercase unit", SlurmOptions{Mem: "64gb"}, "mem"},
		{"mem megabytes", SlurmOptions{Mem: "4000"}, ""},
		{"gres count only", SlurmOptions{Gres: "gpu:1"}, ""},
		{"gres space", SlurmOptions{Gres: "gpu 1"}, "gres"},
		{"gres leading colon", SlurmOptions{Gres: ":1"}, "gres"},
		{"partition space", SlurmOptions{Partition: "a b"}, "partition"},
		{"partition newline", SlurmOptions{Partition: "a\n#SBATCH --x"}, "partition"},
		{"account slash", SlurmOptions{Account: "a/b"}, "account"},
		{"negative cpus", SlurmOptions{CPUsPerTask: -1}, "cpus-per-task"},
		{"negative cap", SlurmOptions{MaxParallel: -2}, "max-parallel"},
		{"sbatch newline", SlurmOptions{Sbatch: []string{"--qos=a\nrm -rf /"}}, "sbatch"},
		{"sbatch not an option", SlurmOptions{Sbatch: []string{"qos=long"}}, "sbatch"},
		{"sbatch array", SlurmOptions{Sbatch: []string{"--array=0-3"}}, "sbatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, msg := c.o.Check()
			if f != c.field || (f != "") != (msg != "") {
				t.Errorf("Check() = %q, %q; want field %q", f, msg, c.field)
			}
		})
	}
}

func TestSlurmOptionsMerge(t *testing.T) {
	cfg := SlurmOptions{Partition: "cpu", Time: "1:00:00", Sbatch: []string{"--qos=a"}}
	got := cfg.Merge(SlurmOptions{Partition: "gpu", Gres: "gpu:1", Sbatch: []string{"--qos=b"}})
	if got.Partition != "gpu" || got.Time != "1:00:00" || got.Gres != "gpu:1" || strings.Join(got.Sbatch, " ") != "--qos=a --qos=b" {
		t.Errorf("Merge: %+v", got)
	}
	if len(cfg.Sbatch) != 1 {
		t.Errorf("Merge changed its receiver's lines: %v", cfg.Sbatch)
	}
}

func TestArrayScript(t *testing.T) {
	o := SubmitOptions{Options: Options{Dir: "/s/st"}, Slurm: SlurmOptions{Partition: "gpu", Gres: "gpu:1", MaxParallel: 3, Sbatch: []string{"#SBATCH --qos=long"}},
		Command: []string{"/opt/gollm", "bench", "--out", "/s/st", "--config", "/s/it's.yaml"}, Workdir: "/s"}
	s := arrayScript(o, []string{"m/dense", "m/rtn:bits=4,group=8,sym=false"}, "/s/st/slurm", time.Unix(0, 0))
	for _, want := range []string{
		"#!/bin/bash\n", "#SBATCH --array=0-1%3\n", "#SBATCH --output=/s/st/slurm/logs/%A_%a.out\n", "#SBATCH --chdir=/s\n",
		"#SBATCH --partition=gpu\n", "#SBATCH --gres=gpu:1\n", "#SBATCH --qos=long\n",
		"  'm/dense' # 0\n  'm/rtn:bits=4,group=8,sym=false' # 1\n",
		`exec '/opt/gollm' 'bench' '--out' '/s/st' '--config' '/s/it'\''s.yaml' --only "${units[$SLURM_ARRAY_TASK_ID]}"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	// Every #SBATCH line comes before the first command (sbatch stops
	// reading them there).
	if i, j := strings.LastIndex(s, "#SBATCH"), strings.Index(s, "set -eu"); i > j {
		t.Errorf("an #SBATCH line after the first command:\n%s", s)
	}
	if _, err := exec.LookPath("bash"); err == nil {
		path := filepath.Join(t.TempDir(), "a.sbatch")
		os.WriteFile(path, []byte(s), 0o644)
		if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v: %s", err, out)
		}
	}
}

func TestParseQueue(t *testing.T) {
	q := parseQueue([]byte("12|0|RUNNING\n12|3|PENDING\n13|N/A|RUNNING\n\ngarbage\n"))
	if len(q) != 2 || q["12_0"] != "RUNNING" || q["12_3"] != "PENDING" {
		t.Errorf("parseQueue: %v", q)
	}
	a := parseSacct([]byte("12_0|COMPLETED\n12_1|CANCELLED by 0\n12_[2-4]|PENDING\n13|FAILED\n"))
	if len(a) != 2 || a["12_0"] != "COMPLETED" || a["12_1"] != "CANCELLED" {
		t.Errorf("parseSacct: %v", a)
	}
	for _, c := range []struct {
		t               slurmTask
		running, queued bool
	}{
		{slurmTask{state: "RUNNING", inQ: true}, true, false},
		{slurmTask{state: "PENDING", inQ: true}, false, true},
		{slurmTask{state: "COMPLETED", inQ: true}, false, false},
		{slurmTask{state: "CANCELLED"}, false, false},
		{slurmTask{state: "RUNNING"}, false, false}, // sacct's word for a task squeue no longer lists
	} {
		if c.t.running() != c.running || c.t.queued() != c.queued {
			t.Errorf("%+v: running %v queued %v", c.t, c.t.running(), c.t.queued())
		}
	}
}

func TestSelectUnits(t *testing.T) {
	plans := []*plan{{unit: "a/dense", key: "1"}, {unit: "a/dense", key: "2"}, {unit: "a/rtn", key: "3"}, {unit: "a/rtn", key: "4"}}
	got, err := selectUnits(plans, []string{"a/rtn"})
	if err != nil || len(got) != 2 || got[0].key != "3" || got[1].key != "4" {
		t.Errorf("selectUnits: %v, %v", got, err)
	}
	if got, _ := selectUnits(plans, nil); len(got) != 4 {
		t.Errorf("no --only: %d plans", len(got))
	}
	if _, err := selectUnits(plans, []string{"a/rtn", "b/dense"}); err == nil || !strings.Contains(err.Error(), `"b/dense"`) {
		t.Errorf("unknown unit: %v", err)
	}
	us := unitsOf([]*plan{{unit: "a/dense", method: bench.Dense}, {unit: "a/rtn", method: "rtn"}, {unit: "b/dense", method: bench.Dense}, {unit: "b/rtn", method: "rtn"}})
	var ids []string
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	if strings.Join(ids, " ") != "a/dense b/dense a/rtn b/rtn" {
		t.Errorf("units: %v, want dense first", ids)
	}
}

// writeHolder writes a lock file for key as h, last touched at mtime.
func writeHolder(t *testing.T, dir, key string, h Holder, mtime time.Time) {
	t.Helper()
	b, _ := json.Marshal(h)
	p := lockPath(dir, key)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestCellLock(t *testing.T) {
	dir := t.TempDir()
	l, h, err := tryLock(dir, "k")
	if err != nil || l == nil || h != nil {
		t.Fatalf("first lock: %v %v %v", l, h, err)
	}
	// A second taker (another open file, as another process would have)
	// finds it held, by this process.
	l2, h2, err := tryLock(dir, "k")
	if err != nil || l2 != nil || h2 == nil || h2.PID != os.Getpid() {
		t.Fatalf("second lock: %v %+v %v", l2, h2, err)
	}
	if lh := LockHolder(dir, "k"); lh == nil || lh.PID != os.Getpid() {
		t.Errorf("LockHolder of a held lock: %+v", lh)
	}
	l.unlock()
	if _, err := os.Stat(lockPath(dir, "k")); err == nil {
		t.Error("unlock left the lock file")
	}
	if LockHolder(dir, "k") != nil {
		t.Error("LockHolder after unlock")
	}

	// A dead process of this host (its PID gone), another host's holder
	// that stopped touching the file, and a reboot: taken over.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1) to make a dead pid")
	}
	me := self()
	dead := me
	dead.PID, dead.Start = cmd.ProcessState.Pid(), 1
	rebooted := me
	rebooted.Boot = "another-boot"
	fresh := Holder{Host: me.Host + "-other-node", PID: 1, Boot: "x"}
	for _, c := range []struct {
		name  string
		h     Holder
		mtime time.Time
		taken bool
	}{
		{"dead pid", dead, time.Now(), true},
		{"reboot", rebooted, time.Now(), true},
		{"other host, stale", fresh, time.Now().Add(-2 * LockStale), true},
		{"other host, fresh", fresh, time.Now(), false},
		{"this process", me, time.Now(), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeHolder(t, dir, c.name, c.h, c.mtime)
			if got := LockHolder(dir, c.name) == nil; got != c.taken {
				t.Errorf("LockHolder says dead=%v, want %v", got, c.taken)
			}
			l, h, err := tryLock(dir, c.name)
			if err != nil || (l != nil) != c.taken {
				t.Fatalf("tryLock: lock %v, holder %+v, %v; want taken=%v", l, h, err, c.taken)
			}
			if l != nil {
				f, _ := os.Open(lockPath(dir, c.name))
				nh := readHolder(f)
				f.Close()
				if nh == nil || nh.PID != os.Getpid() {
					t.Errorf("taken over, but the record is %+v", nh)
				}
				l.unlock()
			}
		})
	}
}

// TestStatusWithFakeSlurm: the states of --status from the store and a
// (fake) squeue, with sacct unavailable.
func TestParseSubmissionsAndTasks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, SlurmDir), 0o755)
	subs := `{"job":"7","units":["m/dense","m/rtn"]}` + "\n" + `{"job":"9","units":["m/rtn"]}` + "\nnot json\n"
	os.WriteFile(filepath.Join(dir, SlurmDir, submissionsFile), []byte(subs), 0o644)
	var asked []string
	q := &Slurm{Run: func(_ context.Context, name string, args ...string) ([]byte, error) {
		asked = append(asked, name+" "+strings.Join(args, " "))
		switch name {
		case "squeue":
			return []byte("9|0|RUNNING\n"), nil
		}
		return nil, &exec.ExitError{}
	}}
	tasks, note := q.unitTasks(dir)
	if len(tasks) != 2 || tasks["m/rtn"].job != "9_0" || !tasks["m/rtn"].running() || tasks["m/dense"].job != "7_0" || tasks["m/dense"].queued() {
		t.Errorf("tasks %+v", tasks)
	}
	if !strings.Contains(note, "squeue only") || len(asked) != 2 || !strings.Contains(asked[0], "-j 7,9") {
		t.Errorf("note %q, asked %v", note, asked)
	}
}
