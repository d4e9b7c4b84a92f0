// Command badinput feeds the gollm binary hundreds of bad inputs — broken
// safetensors files, hostile config.json fields, damaged tokenizer and eval
// files, bad flags, dangerous output paths — and writes what happened to a
// table in docs/RELIABILITY.md (between the badinput markers).
//
//	go build -o bin/gollm ./cmd/gollm
//	go run ./scripts/badinput -bin bin/gollm -doc docs/RELIABILITY.md [-run REGEX] [-short] [-v]
//
// Every bad input is made in a temporary folder from the project's own
// fixtures (testdata/...); nothing is downloaded. Each case runs the binary
// with stdin closed, a wall-clock timeout (a hang) and an address-space limit
// (so an out-of-memory shows as a crash instead of taking the machine down).
//
// Outcomes: ok (exit 2 with one stderr line naming the file or flag, or the
// exit code the case declares for inputs that are legitimately accepted or
// are runtime failures), panic, fatal, hang, wrong-exit, unclear, data-lost.
// The tool exits 0 when every case is ok, 1 otherwise.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Outcome kinds, in the order the summary table lists them.
const (
	outOK        = "ok"
	outPanic     = "panic"
	outFatal     = "fatal"
	outHang      = "hang"
	outWrongExit = "wrong-exit"
	outUnclear   = "unclear"
	outDataLost  = "data-lost"
	outHarness   = "harness-error"
)

var failureKinds = []string{outPanic, outFatal, outHang, outWrongExit, outUnclear, outDataLost, outHarness}

// result is what one case did.
type result struct {
	c       *Case
	code    int    // exit code; -1 when killed by a signal
	signal  string // the signal that ended the child, if any
	outcome string
	reason  string // why the outcome is not ok
	line    string // the last stderr line (the error message)
	lines   int    // non-empty stderr lines
	wall    time.Duration
}

func main() {
	bin := flag.String("bin", "", "gollm binary to test (empty: build ./cmd/gollm into a temporary folder)")
	doc := flag.String("doc", "docs/RELIABILITY.md", "Markdown file whose badinput section is rewritten (empty: none)")
	runRE := flag.String("run", "", "only cases whose id, class or description match this regular expression")
	short := flag.Bool("short", false, "skip the slow cases (huge inputs, concurrent runs)")
	verbose := flag.Bool("v", false, "print every case as it finishes")
	timeout := flag.Duration("timeout", 60*time.Second, "per-case wall-clock limit (longer is a hang)")
	memLimit := flag.Int64("mem", 4<<30, "address-space limit of each child in bytes (RLIMIT_AS)")
	jobs := flag.Int("j", 2, "cases run at once")
	keep := flag.Bool("keep", false, "keep the temporary folder")
	list := flag.Bool("list", false, "list the cases and exit")
	full := flag.Bool("full", false, "print whole messages, not their first 100 characters")
	flag.Parse()

	root, err := repoRoot()
	if err != nil {
		fatalf("%v", err)
	}
	tmp, err := os.MkdirTemp("", "badinput-")
	if err != nil {
		fatalf("%v", err)
	}
	if !*keep {
		defer os.RemoveAll(tmp)
	} else {
		fmt.Fprintf(os.Stderr, "badinput: keeping %s\n", tmp)
	}

	if *bin == "" {
		*bin = filepath.Join(tmp, "gollm")
		cmd := exec.Command("go", "build", "-o", *bin, "./cmd/gollm")
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fatalf("building gollm: %v", err)
		}
	} else if *bin, err = filepath.Abs(*bin); err != nil {
		fatalf("%v", err)
	}

	cases := allCases()
	if err := checkIDs(cases); err != nil {
		fatalf("%v", err)
	}
	var re *regexp.Regexp
	if *runRE != "" {
		if re, err = regexp.Compile(*runRE); err != nil {
			fatalf("-run: %v", err)
		}
	}
	var selected []*Case
	for _, c := range cases {
		if re != nil && !re.MatchString(c.ID) && !re.MatchString(c.Class) && !re.MatchString(c.What) {
			continue
		}
		if *short && c.Slow {
			continue
		}
		selected = append(selected, c)
	}
	if *list {
		for _, c := range selected {
			fmt.Printf("%-28s %-14s %s\n", c.ID, c.Class, c.What)
		}
		return
	}

	env := &Env{Root: root, Bin: *bin, Tmp: tmp, Base: filepath.Join(tmp, "base")}
	if err := env.prepare(); err != nil {
		fatalf("preparing fixtures: %v", err)
	}
	baseBefore, err := snapshot(env.Base, false)
	if err != nil {
		fatalf("%v", err)
	}
	// The limit is inherited by every child; the harness itself stays far
	// below it.
	if *memLimit > 0 {
		lim := syscall.Rlimit{Cur: uint64(*memLimit), Max: uint64(*memLimit)}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			fatalf("setrlimit: %v", err)
		}
	}

	start := time.Now()
	results := make([]*result, len(selected))
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < max(1, *jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(selected) {
					return
				}
				r := runCase(env, selected[i], *timeout)
				results[i] = r
				if *verbose || r.outcome != outOK {
					mu.Lock()
					fmt.Fprintf(os.Stderr, "%-10s %-28s exit %-4s %5.1fs %s%s\n", r.outcome, r.c.ID, exitText(r), r.wall.Seconds(), trunc(r.line, lineWidth(*full)), reasonText(r))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	// A case that wrote into the shared fixtures is found per case by the
	// stat check in runCase; this full hash catches what a stat misses.
	if baseAfter, err := snapshot(env.Base, false); err == nil {
		if d := diffSnap(baseBefore, baseAfter); d != "" {
			fmt.Fprintf(os.Stderr, "badinput: the shared fixtures changed during the run: %s\n", d)
			results = append(results, &result{c: &Case{ID: "shared-fixtures", Class: "output", What: "shared read-only fixtures unchanged after the run"}, outcome: outDataLost, reason: d, code: 0})
		}
	}

	failed := 0
	for _, r := range results {
		if r.outcome != outOK {
			failed++
		}
	}
	fmt.Fprintf(os.Stderr, "badinput: %d cases, %d ok, %d not ok, %.0f s\n", len(results), len(results)-failed, failed, elapsed.Seconds())
	if *doc != "" {
		md := report(env, results, elapsed, os.Args[1:])
		path := *doc
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if err := writeSection(path, md); err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintf(os.Stderr, "badinput: wrote the table to %s\n", path)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func lineWidth(full bool) int {
	if full {
		return 1 << 20
	}
	return 100
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "badinput: "+format+"\n", args...)
	os.Exit(1)
}

// repoRoot finds the folder holding go.mod, upwards from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the gollm repository")
		}
		dir = parent
	}
}

func checkIDs(cases []*Case) error {
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.ID] {
			return fmt.Errorf("duplicate case id %s", c.ID)
		}
		seen[c.ID] = true
	}
	return nil
}

// fileState is a file's hash (or, for the quick check, size and mtime).
type fileState string

// snapshot records every regular file under dir: its SHA-256 when full,
// else its size, mode and modification time.
func snapshot(dir string, quick bool) (map[string]fileState, error) {
	snap := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if quick {
			snap[rel] = fileState(fmt.Sprintf("%d %v %d", info.Size(), info.Mode(), info.ModTime().UnixNano()))
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			snap[rel] = "unreadable"
			return nil
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			snap[rel] = "unreadable"
			return nil
		}
		snap[rel] = fileState(fmt.Sprintf("%x", h.Sum(nil)))
		return nil
	})
	return snap, err
}

// diffSnap names the files of before that are changed or gone in after
// (new files are not a loss).
func diffSnap(before, after map[string]fileState) string {
	var changed, gone []string
	for p, s := range before {
		a, ok := after[p]
		switch {
		case !ok:
			gone = append(gone, p)
		case a != s:
			changed = append(changed, p)
		}
	}
	sort.Strings(changed)
	sort.Strings(gone)
	var parts []string
	if len(changed) > 0 {
		parts = append(parts, "changed "+listShort(changed))
	}
	if len(gone) > 0 {
		parts = append(parts, "deleted "+listShort(gone))
	}
	return strings.Join(parts, "; ")
}

func listShort(s []string) string {
	if len(s) > 4 {
		return strings.Join(s[:4], ", ") + fmt.Sprintf(" and %d more", len(s)-4)
	}
	return strings.Join(s, ", ")
}

// capBuffer keeps the first and last bytes written to it.
type capBuffer struct {
	mu         sync.Mutex
	head, tail []byte
	n          int64
}

const capHead, capTail = 256 << 10, 16 << 10

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(len(p))
	if room := capHead - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p2 := p[k:]
		if len(p2) == 0 {
			return len(p), nil
		}
		b.tail = append(b.tail, p2...)
	} else {
		b.tail = append(b.tail, p...)
	}
	if len(b.tail) > capTail {
		b.tail = append([]byte(nil), b.tail[len(b.tail)-capTail:]...)
	}
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.tail) == 0 {
		return string(b.head)
	}
	return string(b.head) + "\n" + string(b.tail)
}

// proc is one started child.
type proc struct {
	cmd    *exec.Cmd
	stderr *capBuffer
	done   chan struct{}
	err    error
	hung   bool
}

func start(env *Env, dir string, args []string, timeout time.Duration, environ ...string) (*proc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, env.Bin, args...)
	cmd.Dir = dir
	cmd.Stdin = nil // /dev/null: stdin closed
	cmd.Stdout = io.Discard
	p := &proc{cmd: cmd, stderr: &capBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.Env = append(append(os.Environ(), "GOTRACEBACK=single"), environ...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		p.hung = true
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	return p, nil
}

var (
	rePanic = regexp.MustCompile(`(?m)panic:|^goroutine \d+|internal error`)
	reFatal = regexp.MustCompile(`(?mi)fatal error|out of memory|cannot allocate memory`)
)

func runCase(env *Env, c *Case, timeout time.Duration) *result {
	r := &result{c: c}
	dir := filepath.Join(env.Tmp, "cases", c.ID)
	fail := func(err error) *result {
		r.outcome, r.reason = outHarness, err.Error()
		return r
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	ctx := &CaseCtx{Env: env, Dir: dir}
	if c.Setup != nil {
		if err := c.Setup(ctx); err != nil {
			return fail(fmt.Errorf("setup: %w", err))
		}
	}
	before, err := snapshot(dir, false)
	if err != nil {
		return fail(err)
	}
	baseBefore, _ := snapshot(env.Base, true)

	if c.Timeout > timeout {
		timeout = c.Timeout
	}
	args := ctx.expand(c.Args)
	wants := ctx.expand(c.Want)
	t0 := time.Now()
	runs := 1
	if c.Twice {
		runs = 2
	}
	procs := make([]*proc, runs)
	for i := range procs {
		if procs[i], err = start(env, dir, args, timeout, ctx.expand(c.Environ)...); err != nil {
			for _, p := range procs[:i] {
				<-p.done
			}
			return fail(fmt.Errorf("start: %w", err))
		}
		if c.Twice && i == 0 {
			time.Sleep(c.Stagger)
		}
	}
	for _, p := range procs {
		<-p.done
	}
	r.wall = time.Since(t0)

	// The outcome of the run that did worst decides the case.
	var outs []*result
	for _, p := range procs {
		outs = append(outs, classify(c, wants, p))
	}
	for _, o := range outs {
		o.line = strings.ReplaceAll(o.line, env.Tmp, "$TMP")
	}
	best := outs[0]
	if c.Twice {
		best = judgeTwice(c, wants, outs)
	}
	r.code, r.signal, r.outcome, r.reason, r.line, r.lines = best.code, best.signal, best.outcome, best.reason, best.line, best.lines

	if !c.AllowChange {
		after, err := snapshot(dir, false)
		if err != nil {
			return fail(err)
		}
		if d := diffSnap(before, after); d != "" {
			r.outcome, r.reason = outDataLost, d
		}
	}
	if baseAfter, err := snapshot(env.Base, true); err == nil {
		if d := diffSnap(baseBefore, baseAfter); d != "" {
			r.outcome, r.reason = outDataLost, "shared fixtures: "+d
		}
	}
	if c.Check != nil && r.outcome == outOK {
		if err := c.Check(ctx); err != nil {
			r.outcome, r.reason = c.CheckKind, err.Error()
			if r.outcome == "" {
				r.outcome = outWrongExit
			}
		}
	}
	if !*keepCases {
		os.RemoveAll(dir)
	}
	return r
}

// keepCases is set by tests that inspect a case folder afterwards.
var keepCases = new(bool)

// classify judges one finished child against the case's expectation.
func classify(c *Case, wants []string, p *proc) *result {
	r := &result{c: c}
	st := p.cmd.ProcessState
	if st != nil {
		r.code = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal().String()
			r.code = -1
		}
	}
	stderr := p.stderr.String()
	var lines []string
	for _, l := range strings.FieldsFunc(stderr, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	r.lines = len(lines)
	if len(lines) > 0 {
		r.line = lines[len(lines)-1]
		// A crash prints its reason first and a trace after it.
		for _, l := range lines {
			if reFatal.MatchString(l) || rePanic.MatchString(l) {
				r.line = l
				break
			}
		}
	}
	want := c.code()
	switch {
	case p.hung:
		r.outcome, r.reason = outHang, "no exit within the timeout"
	case reFatal.MatchString(stderr) || r.signal != "":
		r.outcome = outFatal
		if r.signal != "" {
			r.reason = "killed by " + r.signal
		}
	case rePanic.MatchString(stderr):
		r.outcome = outPanic
	case r.code != want:
		r.outcome, r.reason = outWrongExit, fmt.Sprintf("want exit %d", want)
	case want == 0:
		r.outcome = outOK
	default:
		r.outcome, r.reason = judgeMessage(c, wants, lines)
	}
	return r
}

// judgeMessage checks a failing run's stderr: one line (progress lines
// before it are allowed where the case says so), starting "gollm", naming
// what the case says it must name.
func judgeMessage(c *Case, wants []string, lines []string) (string, string) {
	if len(lines) == 0 {
		return outUnclear, "no message on stderr"
	}
	last := lines[len(lines)-1]
	errLines := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "gollm") || strings.HasPrefix(l, "Usage of") || strings.HasPrefix(l, "flag provided") || strings.HasPrefix(l, "invalid value") {
			errLines++
		}
	}
	switch {
	case len(last) > 4096:
		return outUnclear, fmt.Sprintf("a %d-byte message", len(last))
	case !strings.HasPrefix(last, "gollm"):
		return outUnclear, "last stderr line is not a gollm error"
	case errLines > 1:
		return outUnclear, fmt.Sprintf("%d stderr lines (a usage dump), want one", len(lines))
	case len(lines) > 1 && !c.Progress:
		return outUnclear, fmt.Sprintf("%d stderr lines (work or progress before the error), want one", len(lines))
	}
	for _, w := range wants {
		if !namesAny(last, w) {
			return outUnclear, fmt.Sprintf("message does not name %q", w)
		}
	}
	return outOK, ""
}

// namesAny reports whether msg names one of the |-separated alternatives
// of want (case-insensitive); a flag also counts when named without its
// dashes ("seqlen 100000 exceeds ..." names --seqlen).
func namesAny(msg, want string) bool {
	msg = strings.ToLower(msg)
	for _, alt := range strings.Split(want, "|") {
		alt = strings.ToLower(alt)
		if strings.Contains(msg, alt) {
			return true
		}
		if bare := strings.TrimPrefix(alt, "--"); bare != alt && strings.Contains(msg, strings.ReplaceAll(bare, "-", " ")) || bare != alt && strings.Contains(msg, bare) {
			return true
		}
	}
	return false
}

// judgeTwice decides a concurrent-runs case: exactly one run may succeed;
// the other must be refused with exit 2.
func judgeTwice(c *Case, wants []string, outs []*result) *result {
	for _, o := range outs {
		if o.outcome == outPanic || o.outcome == outFatal || o.outcome == outHang {
			return o
		}
	}
	a, b := outs[0], outs[1]
	if a.code == 0 && b.code == 0 {
		r := *b
		r.outcome, r.reason = outWrongExit, "both runs into one --out exited 0 (want the second refused, exit 2)"
		return &r
	}
	for _, o := range []*result{a, b} {
		if o.code != 0 && o.code != 2 {
			r := *o
			r.outcome, r.reason = outWrongExit, "want one run exit 0 and the other exit 2"
			return &r
		}
	}
	if a.code == 2 && b.code == 2 {
		r := *b
		r.outcome, r.reason = outWrongExit, "both runs refused"
		return &r
	}
	refused := a
	if a.code == 0 {
		refused = b
	}
	r := *refused
	r.outcome, r.reason = judgeMessage(c, wants, []string{refused.line})
	return &r
}

func exitText(r *result) string {
	if r.outcome == outHarness {
		return "-"
	}
	if r.signal != "" {
		return "sig"
	}
	return fmt.Sprint(r.code)
}

func reasonText(r *result) string {
	if r.reason == "" {
		return ""
	}
	return " [" + r.reason + "]"
}

func trunc(s string, n int) string {
	s = strings.TrimSpace(s)
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// cpuModel reads the CPU model name from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty", "--abbrev=12")
	cmd.Dir = root
	var b bytes.Buffer
	cmd.Stdout = &b
	if err := cmd.Run(); err != nil {
		return "unknown"
	}
	return strings.TrimSpace(b.String())
}
