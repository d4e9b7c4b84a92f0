package compress

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/internal/procfs"
	"github.com/llmcbench/gollm/kernels"
)

// RecordFile is the name of the Track-3 record written beside the
// compressed checkpoint.
const RecordFile = "compression.json"

// MethodConfig is the full configuration of a run as recorded.
type MethodConfig struct {
	Method         string  `json:"method"`
	Sparsity       float64 `json:"sparsity,omitempty"`
	Pattern        string  `json:"pattern,omitempty"`
	Bits           int     `json:"bits,omitempty"`
	GroupSize      int     `json:"group_size,omitempty"`
	Sym            bool    `json:"sym"`
	ActOrder       bool    `json:"act_order,omitempty"`
	StaticGroups   bool    `json:"static_groups,omitempty"`
	TrueSequential bool    `json:"true_sequential,omitempty"`
	Damp           float64 `json:"damp_percent,omitempty"`
	BlockSize      int     `json:"block_size,omitempty"`
	Alpha          float64 `json:"alpha,omitempty"`
	AWQGrid        int     `json:"awq_grid,omitempty"`
	AWQClip        bool    `json:"awq_clip,omitempty"`
	AWQClipTokens  int     `json:"awq_clip_tokens,omitempty"`
	ScaleDType     string  `json:"scale_dtype,omitempty"`
	Device         string  `json:"device"`
	Threads        int     `json:"threads"`
}

// Record is the Track-3 record of one compression: what was run, on what
// data, how long it took and how much memory it used, and what each layer
// came out as. Run writes it as RecordFile in the output folder.
type Record struct {
	Tool   string `json:"tool"`
	Model  string `json:"model"`
	Out    string `json:"out"`
	Format string `json:"format"`
	// Spec is the canonical method spec of the run (Spec.String; "auto"
	// where a setting comes from the model): the same spec, the same
	// string.
	Spec   string       `json:"spec"`
	Config MethodConfig `json:"config"`
	// Calibration is the calibration set (nil for magnitude and RTN).
	Calibration *corpus.Calibration `json:"calibration,omitempty"`
	Started     time.Time           `json:"started"`
	// WallSeconds covers everything from validation to the saved record.
	WallSeconds float64 `json:"wall_seconds"`
	// CompressSeconds covers the block-by-block compression alone.
	CompressSeconds float64 `json:"compress_seconds"`
	// PeakRSSBytes is the process's peak resident set (VmHWM), reset at the
	// start of the run when the kernel allows it (PeakRSSReset).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	PeakRSSReset bool  `json:"peak_rss_reset"`
	// PeakDeviceBytes is the accelerator memory peak (0: CPU run).
	PeakDeviceBytes int64 `json:"peak_device_bytes"`
	// Sparsity is the fraction of zero weights over the compressed linears.
	Sparsity  float64       `json:"sparsity,omitempty"`
	Layers    []LayerRecord `json:"layers"`
	Scales    []ScaleRecord `json:"scales,omitempty"`
	GoVersion string        `json:"go_version"`
	GOOS      string        `json:"goos"`
	GOARCH    string        `json:"goarch"`
	Notes     []string      `json:"notes,omitempty"`
}

// WriteFile writes r as indented JSON to path.
func (r *Record) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("record %s: %w", path, err)
	}
	return nil
}

// ReadRecord reads a record written by Run.
func ReadRecord(dir string) (*Record, error) {
	path := filepath.Join(dir, RecordFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", path, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("record %s: %w: %v", path, ErrBadInput, err)
	}
	return &r, nil
}

// resetPeakRSS asks the kernel to reset VmHWM (Linux ≥ 4.0: write "5" to
// /proc/self/clear_refs) and reports whether it did.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns the process's peak resident set in bytes (VmHWM from
// /proc/self/status; 0 where unavailable).
func peakRSS() int64 { return procStatusKB("VmHWM:") * 1024 }

// currentRSS returns the current resident set in bytes.
func currentRSS() int64 { return procStatusKB("VmRSS:") * 1024 }

func procStatusKB(key string) int64 { return procfs.KB("/proc/self/status", key) }

// memAvailable returns MemAvailable from /proc/meminfo in bytes (0 where
// unavailable).
func memAvailable() int64 { return procfs.KB("/proc/meminfo", "MemAvailable:") * 1024 }

func recordBase() Record {
	return Record{Tool: "gollm compress", GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
}

// StartRecord begins the record of a run of spec compressing model into
// out: the tool and host, the canonical spec, the method, device and
// threads, and the start time, with the peak RSS reset (where the kernel
// allows). Every method's run starts one, fills in what it did and calls
// Finish on its staging folder before moving it into place.
func StartRecord(spec Spec, model, out string) Record {
	rec := recordBase()
	rec.Started = time.Now()
	rec.PeakRSSReset = resetPeakRSS()
	rec.Model, rec.Out, rec.Spec = model, out, spec.String()
	rec.Config = MethodConfig{Method: spec.Method, Device: "cpu", Threads: kernels.MaxThreads()}
	return rec
}

// Finish sets the wall time (since Started) and the peak RSS and writes
// the record as RecordFile into dir.
func (r *Record) Finish(dir string) error {
	r.WallSeconds = time.Since(r.Started).Seconds()
	r.PeakRSSBytes = peakRSS()
	return r.WriteFile(filepath.Join(dir, RecordFile))
}
