package eval

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal-like writer
// (stderr), redrawn at most every 200 ms. A nil writer draws nothing.
type progress struct {
	w     io.Writer
	name  string
	total int
	done  int
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, name string, total int) *progress {
	p := &progress{w: w, name: name, total: total, start: time.Now()}
	p.draw()
	return p
}

func (p *progress) add(n int) {
	p.done += n
	if time.Since(p.last) >= 200*time.Millisecond || p.done == p.total {
		p.draw()
	}
}

func (p *progress) draw() {
	if p.w == nil {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	fill := int(frac * width)
	el := time.Since(p.start).Seconds()
	rate, eta := 0.0, ""
	if el > 0 && p.done > 0 {
		rate = float64(p.done) / el
		eta = fmt.Sprintf(" ETA %s", (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second))
	}
	fmt.Fprintf(p.w, "\r%-16s [%s%s] %d/%d %5.1f%% %.1f/s%s   ",
		p.name, strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.done, p.total, 100*frac, rate, eta)
}

func (p *progress) finish() {
	if p.w == nil {
		return
	}
	p.draw()
	fmt.Fprintf(p.w, "\n")
}

func (p *progress) abort() {
	if p.w != nil {
		fmt.Fprintf(p.w, "\n")
	}
}
