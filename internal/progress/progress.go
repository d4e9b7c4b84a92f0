// Package progress reports long work on stderr: on a terminal a one-line bar
// redrawn in place (carriage returns), anywhere else (a log file, a pipe, CI)
// plain lines, one every few seconds, so logs stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// PlainEvery is how often a Bar writes a line when its writer is not a
// terminal.
const PlainEvery = 5 * time.Second

// redrawEvery is how often a Bar redraws on a terminal.
const redrawEvery = 200 * time.Millisecond

// IsTerminal reports whether w is a character device (a terminal). A nil
// writer, a buffer, a pipe or a regular file are not.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Bar counts done units of a known total and reports them on a writer. A
// nil writer reports nothing. A Bar is not safe for concurrent use.
type Bar struct {
	w      io.Writer
	tty    bool
	name   string
	total  int
	done   int
	status string
	start  time.Time
	last   time.Time
	drawn  bool
}

// New starts a bar named name over total units, drawing in place when w is
// a terminal and writing plain lines otherwise.
func New(w io.Writer, name string, total int) *Bar {
	return NewMode(w, name, total, IsTerminal(w))
}

// NewMode is New with the terminal decision made by the caller (tests).
func NewMode(w io.Writer, name string, total int, tty bool) *Bar {
	b := &Bar{w: w, tty: tty, name: name, total: total, start: time.Now()}
	b.draw()
	return b
}

// Add marks n more units done.
func (b *Bar) Add(n int) { b.Set(b.done+n, b.status) }

// Set records done units and a short status text shown after the counts
// (e.g. "loss 2.31 lr 1e-3"), reporting when it is time to.
func (b *Bar) Set(done int, status string) {
	b.done, b.status = done, status
	every := redrawEvery
	if !b.tty {
		every = PlainEvery
	}
	if time.Since(b.last) >= every || (b.tty && b.done >= b.total) {
		b.draw()
	}
}

// Done is the number of units marked done.
func (b *Bar) Done() int { return b.done }

func (b *Bar) line() string {
	frac := 1.0
	if b.total > 0 {
		frac = min(float64(b.done)/float64(b.total), 1)
	}
	el := time.Since(b.start).Seconds()
	rate, eta := 0.0, ""
	if el > 0 && b.done > 0 {
		rate = float64(b.done) / el
		if b.done < b.total {
			eta = fmt.Sprintf(" ETA %s", (time.Duration(float64(b.total-b.done)/rate) * time.Second).Round(time.Second))
		}
	}
	status := ""
	if b.status != "" {
		status = " " + b.status
	}
	head := fmt.Sprintf("%d/%d %5.1f%% %.1f/s%s%s", b.done, b.total, 100*frac, rate, eta, status)
	if b.name != "" {
		head = b.name + " " + head
	}
	if !b.tty {
		return head
	}
	const width = 30
	fill := int(frac * width)
	return fmt.Sprintf("[%s%s] %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), head)
}

func (b *Bar) draw() {
	if b.w == nil {
		return
	}
	b.last = time.Now()
	b.drawn = true
	if b.tty {
		fmt.Fprintf(b.w, "\r%s   ", b.line())
		return
	}
	fmt.Fprintln(b.w, b.line())
}

// Finish reports the final count and ends the bar's line.
func (b *Bar) Finish() {
	if b.w == nil {
		return
	}
	b.draw()
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

// Abort ends the bar's line without a final report (the work stopped early).
func (b *Bar) Abort() {
	if b.w != nil && b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
}
