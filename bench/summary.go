package bench

import "time"

// Summary is a study arranged by LLMCBench track: what `gollm report`
// renders as Markdown, HTML or JSON. It is computed from the study's cells
// (and any published-numbers CSV placed beside them); every number in it
// traces back to the cells it came from.
type Summary struct {
	Study StudyInfo `json:"study"`
	// Models and Methods list what the study covers, in report order;
	// Methods starts with Dense.
	Models  []ModelInfo `json:"models"`
	Methods []string    `json:"methods"`
	// Tracks holds each track's table and overall metrics in the seed's
	// order (1 performance, 2 generalisation, 3 compression cost, 4
	// inference consumption, 5 hardware acceleration, 6 trustworthiness).
	Tracks []Track `json:"tracks"`
	// Problems lists cells that failed, were missing where a track needed
	// them, or could not be read (corrupt or foreign files): each is
	// flagged in the tables and counted as documented in docs/BENCH.md,
	// never silently dropped.
	Problems []Problem `json:"problems,omitempty"`
}

// StudyInfo describes the study as a whole.
type StudyInfo struct {
	Folder  string    `json:"folder"`
	Gollm   string    `json:"gollm_version"`
	Machine Machine   `json:"machine"`
	Created time.Time `json:"created"`
	// Cells counts the results files read, by status.
	Cells map[string]int `json:"cells"`
	// Published names the published-numbers CSVs placed beside gollm's
	// rows.
	Published []string `json:"published,omitempty"`
}

// ModelInfo is one model of a study.
type ModelInfo struct {
	Name   string `json:"name"`
	Family string `json:"family,omitempty"`
	Params int64  `json:"params,omitempty"`
	// Source is "gollm" for models measured here, or the published CSV
	// the model's numbers come from.
	Source string `json:"source"`
}

// Track is one LLMCBench track: its table in the paper's layout and its
// overall metrics.
type Track struct {
	// ID is "1" … "6"; Title the track's name; Definition how gollm
	// measures it and Source where the seed defines it.
	ID         string `json:"id"`
	Title      string `json:"title"`
	Definition string `json:"definition"`
	Source     string `json:"source"`
	// Columns names the table's value columns (tasks or measurements).
	Columns []Column `json:"columns"`
	Rows    []Row    `json:"rows"`
	// OMs holds the track's overall metrics (e.g. om_ka, om_ia, om_perf
	// for Track 1), one per method (and setting).
	OMs []OMValue `json:"oms"`
}

// Column is one value column of a track table.
type Column struct {
	// Name is the task or measurement ("mmlu", "peak_rss_bytes"), Metric
	// the metric shown ("acc", "word_perplexity"), Group the OM group it
	// feeds ("knowledge", "inference", …).
	Name          string `json:"name"`
	Metric        string `json:"metric"`
	Group         string `json:"group,omitempty"`
	Unit          string `json:"unit,omitempty"`
	LowerIsBetter bool   `json:"lower_is_better"`
	// Convention is "seed" or "gollm" where the two differ (Track 4's
	// checkpoint size and MACs), empty otherwise.
	Convention string `json:"convention,omitempty"`
}

// Row is one model × method line of a track table.
type Row struct {
	Model  string `json:"model"`
	Method string `json:"method"`
	// Setting is the method's setting as the seed labels it ("50%",
	// "2:4", "w4a16", "fp16"); Source "gollm" or a published CSV's name.
	Setting string  `json:"setting,omitempty"`
	Source  string  `json:"source"`
	Values  []Value `json:"values"`
	// Engine is the inference engine of a Track 5 row ("gollm-cpu").
	Engine string `json:"engine,omitempty"`
}

// Value is one number of a table, with where it came from.
type Value struct {
	// V is the value; CI its bootstrap confidence interval (nil when
	// there are no per-sample records, e.g. published numbers).
	V  float64     `json:"v"`
	CI *[2]float64 `json:"ci,omitempty"`
	// Cell is the key of the results file it came from (empty for
	// published numbers).
	Cell string `json:"cell,omitempty"`
	// Flag is set when the value is not a measurement: "failed" (the
	// cell ran and failed), "missing" (no cell), "unsupported".
	Flag string `json:"flag,omitempty"`
}

// OMValue is one overall metric of one method, with its uncertainty and
// the ratios behind it.
type OMValue struct {
	// Name is "om_ka", "om_ia", "om_perf", "om_gen", "om_train",
	// "om_inf", "om_hard", "om_trust", …
	Name    string `json:"name"`
	Method  string `json:"method"`
	Setting string `json:"setting,omitempty"`
	Source  string `json:"source"`
	// Engine is the inference engine of a Track 5 OM.
	Engine string  `json:"engine,omitempty"`
	V      float64 `json:"v"`
	// CI is the bootstrap confidence interval (nil without per-sample
	// records); Level its coverage (0.95).
	CI    *[2]float64 `json:"ci,omitempty"`
	Level float64     `json:"level,omitempty"`
	// Ratios are the inputs: every compressed/original comparison the OM
	// averages, grouped as the formula groups them.
	Ratios []RatioInput `json:"ratios"`
	// Flagged counts ratios that are not measurements (failed or missing
	// cells counted as 0, as docs/BENCH.md states).
	Flagged int `json:"flagged,omitempty"`
}

// RatioInput is one ratio of an overall metric and the two numbers it
// compares.
type RatioInput struct {
	Group      string  `json:"group"`
	Model      string  `json:"model"`
	Column     string  `json:"column"`
	Original   float64 `json:"original"`
	Compressed float64 `json:"compressed"`
	R          float64 `json:"r"`
	// OriginalCell and CompressedCell are the results files' keys.
	OriginalCell   string `json:"original_cell,omitempty"`
	CompressedCell string `json:"compressed_cell,omitempty"`
	Flag           string `json:"flag,omitempty"`
}

// Problem is a cell a summary could not use as a measurement.
type Problem struct {
	// File is the results file (relative to the study folder), Key its
	// cell key when known.
	File string `json:"file,omitempty"`
	Key  string `json:"key,omitempty"`
	// Kind is "failed", "missing", "corrupt", "foreign" or "pending"
	// (a unit of the study's plan not computed yet).
	Kind   string `json:"kind"`
	Model  string `json:"model,omitempty"`
	Method string `json:"method,omitempty"`
	Task   string `json:"task,omitempty"`
	Detail string `json:"detail"`
}
