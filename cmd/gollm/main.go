// Command gollm loads Hugging Face checkpoints, runs them, compresses them
// and evaluates them (the LLMCBench tracks).
//
//	gollm generate --model DIR (--prompt TEXT | --ids 1,2,3) --max-new-tokens N [--greedy] [--json]
//	gollm tokenize --model DIR (--text TEXT | --file PATH | --file -) [--json]
//	gollm eval     --model DIR --tasks LIST [--data DIR] [--limit N] [--json] [--out FILE]
//	gollm compress --model DIR --method NAME [method flags] --out DIR
//	gollm info     --model DIR [--json]
//	gollm bench    [--config FILE] [--out DIR] [--print-config] [--retry-failed] [--log-samples] [--json]
//	gollm report   --results DIR [--format md|html|json] [--out PATH] [--json]
//	gollm loadgen  --base-url URL --model NAME [--num-prompts N] [--input-len 32] [--output-len 128] [--concurrency C | --request-rate R] [--dataset FILE] [--study DIR] [--json] [--out FILE]
//	gollm tokenizer-train --data FILE[,FILE] --vocab-size N --out DIR [--overwrite] [--json]
//
// Every command takes --device cpu|cuda and --threads N. --json prints one
// JSON object on stdout; progress goes to stderr. Exit codes: 0 ok, 1
// runtime failure, 2 bad usage or bad input (with a one-line reason naming
// the file or flag).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/llmcbench/gollm/internal/badinput"
)

// usageError marks bad usage: exit code 2, as for bad input.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Unwrap returns badinput.ErrBadInput: bad usage is bad input.
func (e *usageError) Unwrap() error { return badinput.ErrBadInput }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// checkOwnFile refuses, as a usage error naming flag and path, an existing
// non-empty file at path unless ours says gollm wrote it (the kind of file
// a command may replace): what names that kind ("a gollm report") and
// replaces says what the command replaces, for the message. A missing or
// empty file is accepted.
func checkOwnFile(flag, path, what, replaces string, ours func(b []byte) bool) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(b) == 0 {
		return nil
	}
	if err != nil {
		return usagef("%s %s: %v", flag, path, errors.Unwrap(err))
	}
	if ours(b) {
		return nil
	}
	return usagef("%s %s: the file exists and is not %s; %s (choose another path)", flag, path, what, replaces)
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

func main() { os.Exit(runMain()) }

// runMain runs the command line of the process and returns its exit code.
// The first Ctrl-C (or SIGTERM, as Slurm's scancel sends) cancels the
// command's context: it stops at the next step, keeps or removes what it
// must, and says so. A second one ends the process at once.
func runMain() int {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		signal.Stop(sig)
		fmt.Fprintln(os.Stderr, "gollm: interrupted; stopping (interrupt again to quit at once)")
		cancel()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	return code
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "gollm: internal error: %v\n", r)
			code = 1
		}
	}()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gollm: unknown command %q (run gollm help)\n", args[0])
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "gollm %s: %s\n", c.name, msg)
	if isBadInput(err) {
		return 2
	}
	return 1
}

// isBadInput reports whether err is the user's to fix: every package marks
// bad input (and this command bad usage) by wrapping badinput.ErrBadInput.
func isBadInput(err error) bool { return errors.Is(err, badinput.ErrBadInput) }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: gollm COMMAND [flags]   (gollm COMMAND --help for its flags)")
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width, n, commands[n].summary)
	}
}

// newFlags makes a flag set whose errors are returned, not printed and
// exited on, with the flags every command shares.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *commonFlags) {
	fs := flag.NewFlagSet("gollm "+name, flag.ContinueOnError)
	// Parse errors come back as one line (see parse); the flag list is
	// printed for --help only.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	helpMu.Lock()
	helpOut[fs] = stderr
	helpMu.Unlock()
	c := &commonFlags{}
	fs.StringVar(&c.device, "device", "cpu", "compute device: cpu or cuda (cuda needs a binary built with -tags cuda)")
	fs.StringVar(&c.dtype, "dtype", "", "compute dtype on the device: f32, f16, bf16 (cpu computes in f32)")
	fs.IntVar(&c.threads, "threads", 0, threadsHelp)
	fs.BoolVar(&c.json, "json", false, "print one JSON object on stdout")
	return fs, c
}

// helpOut is where --help prints each flag set's flags.
var (
	helpMu  sync.Mutex
	helpOut = map[*flag.FlagSet]io.Writer{}
)

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			helpMu.Lock()
			w := helpOut[fs]
			helpMu.Unlock()
			if w != nil {
				fmt.Fprintf(w, "usage of %s:\n", fs.Name())
				fs.SetOutput(w)
				fs.PrintDefaults()
			}
			return err
		}
		return usagef("%v (gollm %s --help lists the flags)", err, strings.TrimPrefix(fs.Name(), "gollm "))
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
