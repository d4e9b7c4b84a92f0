package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// CellSchema is the version of the Cell file layout. A results file with
// another schema is foreign: reported and skipped, never averaged.
const CellSchema = 1

// Cell kinds: what one results file measured.
const (
	// KindCompress is one compression (model × method spec): the
	// compressed checkpoint and its compression.json record (Track 3).
	KindCompress = "compress"
	// KindEval is one task scored on one model, dense or compressed
	// (Tracks 1, 2 and 6).
	KindEval = "eval"
	// KindFootprint is the inference consumption of one model, dense or
	// compressed (Track 4): peak memory while evaluating, checkpoint size
	// and MACs, each in the seed's convention and as gollm stores and
	// computes it.
	KindFootprint = "footprint"
	// KindSpeed is the decoding and prefill speed of one model on one
	// engine (Track 5).
	KindSpeed = "speed"
)

// Cell statuses.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Dense is the method name of an original, uncompressed model in cells,
// summaries and published-numbers rows.
const Dense = "dense"

// Cell is one results file of a study: one measurement of one model under
// one method (and one task or engine), with everything that produced it.
// The study folder holds one JSON file per cell, named by its Key; a cell
// whose Key is already present with Status ok is not run again.
type Cell struct {
	Schema int    `json:"schema"`
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	// Model is the model's name in the study (a reference model's name or
	// the folder's base name); Family its architecture family ("llama",
	// "opt", "chatglm") and Params its parameter count.
	Model  string `json:"model"`
	Family string `json:"family,omitempty"`
	Params int64  `json:"params,omitempty"`
	// Method is the canonical method spec (compress.Spec.String), or Dense.
	Method string `json:"method"`
	// Task is the evaluation task (KindEval); Engine the inference engine
	// (KindSpeed, e.g. "gollm-cpu").
	Task   string `json:"task,omitempty"`
	Engine string `json:"engine,omitempty"`
	// Inputs is everything the Key hashes (see KeyOf): model files digest,
	// spec, task data digest, task options, gollm version.
	Inputs map[string]string `json:"inputs"`
	Status string            `json:"status"`
	// Error is the failure of a cell with Status failed, one line;
	// BadInput is set when it came from the input rather than the run.
	Error    string `json:"error,omitempty"`
	BadInput bool   `json:"bad_input,omitempty"`
	// Metrics holds the cell's numbers by name: a task's metrics as eval
	// reports them ("acc", "acc_norm", "word_perplexity", "mc1", "mc2",
	// …), or for the other kinds the names documented in docs/BENCH.md
	// ("compress_seconds", "peak_rss_bytes", "checkpoint_bytes",
	// "macs_seed", "tokens_per_second", …).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Samples is the path, relative to the study folder, of the cell's
	// per-sample records (JSON lines of Sample), when logged.
	Samples string `json:"samples,omitempty"`
	// Checkpoint is the compressed checkpoint's folder relative to the
	// study folder (KindCompress).
	Checkpoint string `json:"checkpoint,omitempty"`
	// Result is the full underlying result: an eval.TaskResult, a
	// compress.Record, …
	Result json.RawMessage `json:"result,omitempty"`
	// Config is the study configuration the cell ran under.
	Config  json.RawMessage `json:"config,omitempty"`
	Machine Machine         `json:"machine"`
	Gollm   string          `json:"gollm_version"`
	Started time.Time       `json:"started"`
	Seconds float64         `json:"seconds"`
}

// Machine describes where a cell ran.
type Machine struct {
	CPU     string `json:"cpu"`
	Cores   int    `json:"cores"`
	Threads int    `json:"threads"`
	MemoryB int64  `json:"memory_bytes"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Go      string `json:"go"`
	BLAS    string `json:"blas,omitempty"`
	Device  string `json:"device"`
}

// Sample is one per-sample record of an evaluation cell: one document of a
// task (or one window of a perplexity task) and the values it contributed
// to each metric. Bootstrap confidence intervals resample these.
type Sample struct {
	// Doc is the document's index in the task's scoring order.
	Doc int `json:"doc"`
	// Group is the document's subject or subset (MMLU subject), if any.
	Group string `json:"group,omitempty"`
	// Metrics holds the document's value of each metric: 0 or 1 for an
	// accuracy, the MC2 probability mass, …
	Metrics map[string]float64 `json:"metrics"`
	// NLL and Tokens (perplexity tasks) are the window's summed negative
	// log-likelihood and the number of tokens (or words) it covers, so a
	// resample's perplexity is exp(ΣNLL / ΣTokens).
	NLL    float64 `json:"nll,omitempty"`
	Tokens float64 `json:"tokens,omitempty"`
	// Target and Pred are the gold and chosen answers (indexes into
	// Choices), and LogLik each choice's log-likelihood, for drill-down.
	Target  int       `json:"target,omitempty"`
	Pred    int       `json:"pred,omitempty"`
	Choices []string  `json:"choices,omitempty"`
	LogLik  []float64 `json:"loglik,omitempty"`
	// Prompt is the request's context, cut to a few hundred bytes.
	Prompt string `json:"prompt,omitempty"`
}

// KeyOf returns a cell's key: the hex SHA-256 of the canonical JSON of its
// kind and inputs (encoding/json sorts map keys, so the same inputs give
// the same key).
func KeyOf(kind string, inputs map[string]string) string {
	// A struct of strings and a map of strings always marshal.
	b, _ := json.Marshal(struct {
		Schema int               `json:"schema"`
		Kind   string            `json:"kind"`
		Inputs map[string]string `json:"inputs"`
	}{CellSchema, kind, inputs})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
