package models

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/internal/procfs"
	"github.com/llmcbench/gollm/kernels"
)

// Need is an estimate, in bytes, of the memory a model takes as gollm holds
// it: float32 weights (packed formats as stored), the KV cache of a context
// and the scratch buffers of a forward pass.
type Need struct {
	Weights, KV, Workspace float64
	// Positions is the context the KV cache and workspace are counted for.
	Positions int
}

// Total is the sum of the parts.
func (n Need) Total() float64 { return n.Weights + n.KV + n.Workspace }

func (n Need) String() string {
	if n.KV == 0 {
		return fmt.Sprintf("weights %s as float32, workspace %s", gib(n.Weights), gib(n.Workspace))
	}
	return fmt.Sprintf("weights %s as float32, KV cache %s and workspace %s for %d positions", gib(n.Weights), gib(n.KV), gib(n.Workspace), n.Positions)
}

func gib(b float64) string {
	g := b / (1 << 30)
	switch {
	case g >= 100:
		return fmt.Sprintf("%.0f GiB", g)
	case g >= 0.1:
		return fmt.Sprintf("%.1f GiB", g)
	}
	return fmt.Sprintf("%.2f GiB", g)
}

// KVBytes is the KV cache of one state of n positions (the CPU cache keeps
// keys and values of MaxKVDim floats per position and layer).
func (c *Config) KVBytes(n int) float64 {
	return float64(c.Layers) * 2 * float64(c.MaxKVDim()) * 4 * float64(n)
}

// WorkspaceBytes is the scratch memory of a forward pass over rows
// positions with a cache of maxLen: the activations of the widest layer,
// the logits of logitRows rows and the attention scratch.
func (c *Config) WorkspaceBytes(rows, logitRows, maxLen int) float64 {
	inter := c.Intermediate
	heads := c.Heads
	for i := 0; i < c.Layers; i++ {
		inter = max(inter, c.LayerIntermediate(i))
		h, _ := c.LayerHeads(i)
		heads = max(heads, h)
	}
	qd := float64(heads * c.HeadDim)
	width := 4*float64(c.Hidden) + 3*qd + 2*float64(c.MaxKVDim()) + 4*float64(inter) + float64(c.WordEmbedProjDim)
	return 4 * (float64(rows)*width + float64(logitRows)*float64(c.Vocab) + float64(kernels.AttentionScratch(maxLen)))
}

// availableMemory returns the bytes this process can still allocate
// (MemAvailable from /proc/meminfo, lowered by a cgroup memory limit) and
// where the figure comes from; 0 when unknown (the check is then skipped).
// Tests replace it.
var availableMemory = func() (int64, string) {
	avail, from := int64(0), ""
	if kb := procfs.KB("/proc/meminfo", "MemAvailable:"); kb > 0 {
		avail, from = kb*1024, "MemAvailable in /proc/meminfo"
	}
	// cgroup v2, then v1: the limit minus what the group already uses.
	for _, p := range [][2]string{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"},
	} {
		limit, ok := readInt(p[0])
		if !ok || limit <= 0 || limit >= 1<<60 {
			continue
		}
		used, _ := readInt(p[1])
		if left := max(limit-used, 0); avail == 0 || left < avail {
			avail, from = left, "the cgroup limit "+p[0]
		}
		break
	}
	return avail, from
}

// readInt reads a file holding one integer ("max" and unreadable files
// give ok=false).
func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// MemoryError is the refusal of a model or context that does not fit in
// the memory available; it wraps ErrBadModel (exit code 2 in the CLI).
type MemoryError struct {
	Need      Need
	Available int64
	From      string // where Available comes from
	What      string // "" for a model's weights, else e.g. "context of 4096 positions"
}

func (e *MemoryError) Error() string {
	p := ""
	if e.What != "" {
		p = e.What + ": "
	}
	return fmt.Sprintf("%sneeds ~%s (%s), the machine has %s available (%s)", p, gib(e.Need.Total()), e.Need, gib(float64(e.Available)), e.From)
}

// Unwrap makes errors.Is(err, ErrBadModel) hold.
func (e *MemoryError) Unwrap() error { return ErrBadModel }

// checkFits refuses an estimate larger than the memory available.
func checkFits(what string, n Need) error {
	avail, from := availableMemory()
	if avail <= 0 || n.Total() <= float64(avail) {
		return nil
	}
	return &MemoryError{Need: n, Available: avail, From: from, What: what}
}

// CheckContext reports whether one more State of maxLen positions (0: the
// model's max_position_embeddings) fits in the memory available: its KV
// cache and the workspace of a forward pass over all its positions. Call it
// before NewState where the context comes from the user; the error wraps
// ErrBadModel.
func (m *Model) CheckContext(maxLen int) error {
	if maxLen <= 0 {
		maxLen = m.Config.MaxPos
	}
	return m.checkContext(maxLen, maxLen)
}

// checkContext is CheckContext with the logits of logitRows rows (1 for
// generation, which keeps only the last position's).
func (m *Model) checkContext(maxLen, logitRows int) error {
	c := m.Config
	n := Need{KV: c.KVBytes(maxLen), Workspace: c.WorkspaceBytes(maxLen, logitRows, maxLen), Positions: maxLen}
	return checkFits(fmt.Sprintf("context of %d positions", maxLen), n)
}

// checkKV refuses, before the first forward of s, a KV cache the machine
// cannot hold: the CPU cache allocates each layer's maxLen positions on its
// first use, so a long context (max_position_embeddings by default) would
// otherwise end in Go's fatal out-of-memory part-way through a run.
func (s *State) checkKV() error {
	if s.kvChecked {
		return nil
	}
	n := s.cache.MaxLen()
	if err := checkFits(fmt.Sprintf("context of %d positions", n), Need{KV: s.m.Config.KVBytes(n), Positions: n}); err != nil {
		return err
	}
	s.kvChecked = true
	return nil
}

// CheckFits refuses an estimate larger than the memory this process can
// still allocate (what describes the work, e.g. "training"); the error is a
// *MemoryError wrapping ErrBadModel. Packages that build models outside
// Load (training) call it before allocating.
func CheckFits(what string, n Need) error { return checkFits(what, n) }
