// Package eval scores causal language models on the LLMCBench evaluation
// tracks with the conventions of the tools the published numbers come
// from: GPTQ-style perplexity (WikiText-2, PTB, C4), lm-evaluation-harness
// perplexity (wikitext) and multiple-choice tasks (ARC, HellaSwag, PIQA,
// WinoGrande, BoolQ, QNLI, MNLI, MMLU, TruthfulQA), LLMCBench's own prompts
// (MMLU, QNLI, MNLI, TruthfulQA.csv) and AdvGLUE.
//
// Data is read from local files in their native formats (Hugging Face
// parquet or JSON lines, the original CSV/TSV/JSON/raw-text releases)
// under Config.DataDir; nothing is downloaded. Every task — its files,
// columns, prompt template and metrics — is defined in tasks.go; ListTasks
// prints them. Run evaluates a list of tasks and returns a Report that
// marshals to JSON with the configuration that produced it.
//
// The package needs only the small LM, State and Tokenizer interfaces.
// Log-likelihoods run on one KV-cache State per task, reusing the prefix a
// request shares with the previous one, so a question's context (and a
// few-shot prefix shared by many questions) runs once for all choices.
//
// Errors caused by the input match badinput.ErrBadInput and name the file, row and
// column; anything else is a runtime failure. See docs/EVAL.md.
package eval
