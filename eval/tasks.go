package eval

// This file is the one place where every task is defined: its data, the
// columns it reads, its prompt template (and template version), metrics and
// loader. Change a template here, and bump its version.

import "fmt"

// Task kinds.
const (
	kindPerplexity = "perplexity"            // GPTQ-style windows
	kindRolling    = "loglikelihood_rolling" // the harness's wikitext
	kindMC         = "multiple_choice"       // log-likelihood of each choice
	kindLetter     = "next_token_letter"     // LLMCBench: logits of A/B/C/D after the prompt
)

// taskDef defines one task in one prompt variant.
type taskDef struct {
	name     string
	variant  string
	kind     string
	about    string
	data     dataSpec
	columns  string
	template string
	version  string
	metrics  []string
	shots    bool // honours Config.Shots
	// load reads and checks the data, builds the requests and returns the
	// function that scores them into res.
	load func(e *env, t *taskDef, res *TaskResult) (func() error, error)
}

const (
	harnessVersion   = "harness-v0.4/gollm.1"
	llmcbenchVersion = "llmcbench/gollm.1"
	gptqVersion      = "gptq-datautils/gollm.1"
)

// truthfulQAPrimer is the six-question QA primer of TruthfulQA, used by
// the harness's truthfulqa_mc1/mc2 and TruthfulQA's own "qa" preset.
const truthfulQAPrimer = "Q: What is human life expectancy in the United States?\n" +
	"A: Human life expectancy in the United States is 78 years.\n\n" +
	"Q: Who was president of the United States in 1955?\n" +
	"A: Dwight D. Eisenhower was president of the United States in 1955.\n\n" +
	"Q: Which party did he belong to?\n" +
	"A: He belonged to the Republican Party.\n\n" +
	"Q: What is the square root of banana?\n" +
	"A: I have no comment.\n\n" +
	"Q: How does a telescope work?\n" +
	"A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n" +
	"Q: Where were the 1992 Olympics held?\n" +
	"A: The 1992 Olympics were held in Barcelona, Spain."

// LLMCBench prompt headers (its evaluate_*.py scripts).
const (
	llmcbenchQNLIHeader = "Please identify whether the sentence answers the question. The answer should be exactly 'A. yes' or 'B. no'.\n\n"
	llmcbenchMNLIHeader = "Please identify whether the premise entails the hypothesis. The answer should be exactly 'A. yes', 'B. maybe' or 'C. no'\n\n"
)

var taskList = []*taskDef{
	// ---- Track 2: perplexity -------------------------------------------
	{
		name: "wikitext2", variant: VariantHarness, kind: kindPerplexity,
		about: "WikiText-2 test, GPTQ-style: rows joined with \"\\n\\n\", tokenized once with special tokens, non-overlapping seqlen windows",
		data: dataSpec{Dirs: []string{"wikitext2"}, Split: "test", Names: []string{"wiki.test.raw"},
			Prefer: []string{"wikitext-2-raw-v1"},
			Source: "Hugging Face Salesforce/wikitext config wikitext-2-raw-v1 (or wiki.test.raw of wikitext-2-raw-v1.zip)"},
		columns: "text", template: `"\n\n".join(text)`, version: gptqVersion,
		metrics: []string{"ppl", "mean_nll"}, load: loadJoinedPerplexity("text", "\n\n"),
	},
	{
		name: "ptb", variant: VariantHarness, kind: kindPerplexity,
		about: "Penn Treebank validation, GPTQ-style (GPTQ's \"ptb\": validation split joined with \"\\n\\n\")",
		data: dataSpec{Dirs: []string{"ptb"}, Split: "validation", Names: []string{"ptb.valid.txt"},
			Prefer: []string{"penn_treebank"},
			Source: "Hugging Face ptb_text_only config penn_treebank (or ptb.valid.txt of Mikolov's simple-examples)"},
		columns: "sentence", template: `"\n\n".join(sentence)`, version: gptqVersion,
		metrics: []string{"ppl", "mean_nll"}, load: loadJoinedPerplexity("sentence", "\n\n"),
	},
	{
		name: "ptb_new", variant: VariantHarness, kind: kindPerplexity,
		about: "Penn Treebank test, GPTQ's \"ptb-new\": test split joined with \" \"",
		data: dataSpec{Dirs: []string{"ptb_new", "ptb"}, Split: "test", Names: []string{"ptb.test.txt"},
			Prefer: []string{"penn_treebank"},
			Source: "Hugging Face ptb_text_only config penn_treebank (or ptb.test.txt of Mikolov's simple-examples)"},
		columns: "sentence", template: `" ".join(sentence)`, version: gptqVersion,
		metrics: []string{"ppl", "mean_nll"}, load: loadJoinedPerplexity("sentence", " "),
	},
	{
		name: "c4", variant: VariantHarness, kind: kindPerplexity,
		about: "C4 validation shard 0, GPTQ-style: 256 random seqlen windows from random documents with ≥ seqlen tokens (Python random, seed 0)",
		data: dataSpec{Dirs: []string{"c4"}, Split: "validation",
			Names:  []string{"c4-validation.00000-of-00008.json.gz", "c4-validation.00000-of-00008.json"},
			Prefer: []string{"en"},
			Source: "Hugging Face allenai/c4, file en/c4-validation.00000-of-00008.json.gz"},
		columns: "text", template: "256 × random window of one document", version: gptqVersion,
		metrics: []string{"ppl", "mean_nll"}, load: loadC4Random,
	},
	{
		name: "c4_new", variant: VariantHarness, kind: kindPerplexity,
		about: "C4 validation shard 0, GPTQ's \"c4-new\": first 1100 documents joined with \" \", cut to 256·seqlen tokens",
		data: dataSpec{Dirs: []string{"c4_new", "c4"}, Split: "validation",
			Names:  []string{"c4-validation.00000-of-00008.json.gz", "c4-validation.00000-of-00008.json"},
			Prefer: []string{"en"},
			Source: "Hugging Face allenai/c4, file en/c4-validation.00000-of-00008.json.gz"},
		columns: "text", template: `" ".join(text[:1100])[:256·seqlen tokens]`, version: gptqVersion,
		metrics: []string{"ppl", "mean_nll"}, load: loadC4New,
	},
	{
		name: "wikitext", variant: VariantHarness, kind: kindRolling,
		about: "lm-evaluation-harness wikitext: per document, wikitext_detokenizer, rolling windows of the sequence limit",
		data: dataSpec{Dirs: []string{"wikitext"}, Split: "test", Prefer: []string{"wikitext-2-raw-v1"},
			Source: "Hugging Face EleutherAI/wikitext_document_level config wikitext-2-raw-v1"},
		columns: "page", template: "wikitext_detokenizer(page)", version: harnessVersion,
		metrics: []string{"word_perplexity", "byte_perplexity", "bits_per_byte"}, load: loadWikitextRolling,
	},

	// ---- Track 1: knowledge and inference ability ------------------------
	{
		name: "arc_easy", variant: VariantHarness, kind: kindMC,
		about: "ARC-Easy test",
		data: dataSpec{Dirs: []string{"arc_easy", "ai2_arc"}, Split: "test", Names: []string{"ARC-Easy-Test.jsonl"},
			Prefer: []string{"ARC-Easy"},
			Source: "Hugging Face allenai/ai2_arc config ARC-Easy (or ARC-Easy-Test.jsonl of ARC-V1-Feb2018)"},
		columns: "question, choices.text, choices.label, answerKey", template: "Question: {question}\nAnswer:| {choice}",
		version: harnessVersion, metrics: []string{"acc", "acc_norm"}, load: loadARC,
	},
	{
		name: "arc_challenge", variant: VariantHarness, kind: kindMC,
		about: "ARC-Challenge test",
		data: dataSpec{Dirs: []string{"arc_challenge", "ai2_arc"}, Split: "test", Names: []string{"ARC-Challenge-Test.jsonl"},
			Prefer: []string{"ARC-Challenge"},
			Source: "Hugging Face allenai/ai2_arc config ARC-Challenge (or ARC-Challenge-Test.jsonl of ARC-V1-Feb2018)"},
		columns: "question, choices.text, choices.label, answerKey", template: "Question: {question}\nAnswer:| {choice}",
		version: harnessVersion, metrics: []string{"acc", "acc_norm"}, load: loadARC,
	},
	{
		name: "hellaswag", variant: VariantHarness, kind: kindMC,
		about: "HellaSwag validation, with the harness's preprocessing",
		data: dataSpec{Dirs: []string{"hellaswag"}, Split: "validation", Names: []string{"hellaswag_val.jsonl"},
			Source: "Hugging Face Rowan/hellaswag (or hellaswag_val.jsonl of rowanz/hellaswag)"},
		columns:  "activity_label, ctx_a, ctx_b, endings, label",
		template: "preprocess({activity_label}: {ctx_a} {ctx_b.capitalize()})| preprocess({ending})",
		version:  harnessVersion, metrics: []string{"acc", "acc_norm"}, load: loadHellaSwag,
	},
	{
		name: "piqa", variant: VariantHarness, kind: kindMC,
		about: "PIQA validation",
		data: dataSpec{Dirs: []string{"piqa"}, Split: "validation", Names: []string{"valid.jsonl"},
			Source: "Hugging Face baber/piqa (or valid.jsonl + valid-labels.lst of ybisk/ybisk.github.io piqa)"},
		columns: "goal, sol1, sol2, label", template: "Question: {goal}\nAnswer:| {sol1} / {sol2}",
		version: harnessVersion, metrics: []string{"acc", "acc_norm"}, load: loadPIQA,
	},
	{
		name: "winogrande", variant: VariantHarness, kind: kindMC,
		about: "WinoGrande (xl) validation, partial scoring: the text after \"_\" scored after each option",
		data: dataSpec{Dirs: []string{"winogrande"}, Split: "validation", Names: []string{"dev.jsonl"},
			Prefer: []string{"winogrande_xl"},
			Source: "Hugging Face allenai/winogrande config winogrande_xl (or dev.jsonl of winogrande_1.1)"},
		columns: "sentence, option1, option2, answer", template: "{sentence before _}{option}| {sentence after _, stripped}",
		version: harnessVersion, metrics: []string{"acc"}, load: loadWinoGrande,
	},
	{
		name: "boolq", variant: VariantHarness, kind: kindMC,
		about: "BoolQ (SuperGLUE) validation",
		data: dataSpec{Dirs: []string{"boolq", "super_glue"}, Split: "validation", Names: []string{"dev.jsonl"},
			Prefer: []string{"boolq"},
			Source: "Hugging Face aps/super_glue config boolq or google/boolq (or BoolQ dev.jsonl)"},
		columns: "passage, question, label (or answer: bool)", template: "{passage}\nQuestion: {question}?\nAnswer:| no / yes",
		version: harnessVersion, metrics: []string{"acc"}, load: loadBoolQ,
	},
	{
		name: "qnli", variant: VariantHarness, kind: kindMC,
		about: "GLUE QNLI validation",
		data:  qnliData, columns: "question, sentence, label (0/1 or entailment/not_entailment)",
		template: "{question}\n{sentence}\nQuestion: Does this response answer the question?\nAnswer:| yes / no",
		version:  harnessVersion, metrics: []string{"acc"}, load: loadQNLI,
	},
	{
		name: "qnli", variant: VariantLLMCBench, kind: kindLetter,
		about: "GLUE QNLI dev, LLMCBench prompt, argmax of the A/B logits",
		data:  qnliData, columns: "question, sentence, label",
		template: llmcbenchQNLIHeader + "Question:{question}\nSentence:{sentence}\nAnswer:| A / B",
		version:  llmcbenchVersion, metrics: []string{"acc"}, load: loadQNLI,
	},
	mnliTask(VariantHarness, "mnli", "validation_matched", "matched", "GLUE MNLI validation_matched"),
	mnliTask(VariantLLMCBench, "mnli", "validation_matched", "matched", "MNLI dev matched, LLMCBench prompt, argmax of the A/B/C logits"),
	mnliTask(VariantHarness, "mnli_mismatch", "validation_mismatched", "mismatched", "GLUE MNLI validation_mismatched"),
	mnliTask(VariantLLMCBench, "mnli_mismatch", "validation_mismatched", "mismatched",
		"MNLI dev mismatched (LLMCBench's MNLI), LLMCBench prompt, argmax of the A/B/C logits"),
	{
		name: "mmlu", variant: VariantHarness, kind: kindMC, shots: true,
		about: "MMLU test, per subject (shots: first N of dev), overall = micro-average, plus the four categories",
		data:  mmluData, columns: mmluColumns,
		template: "The following are multiple choice questions (with answers) about {subject words}.\n\n" +
			"[{shot} {letter}\n\n]{question.strip()}\nA. {c0}\nB. {c1}\nC. {c2}\nD. {c3}\nAnswer:| A / B / C / D",
		version: harnessVersion, metrics: []string{"acc"}, load: loadMMLU,
	},
	{
		name: "mmlu", variant: VariantLLMCBench, kind: kindLetter, shots: true,
		about: "MMLU test, Hendrycks' prompt as in LLMCBench, argmax of the A-D logits, shots dropped while the prompt exceeds seqlen",
		data:  mmluData, columns: mmluColumns,
		template: "The following are multiple choice questions (with answers) about  {subject words}.\n\n" +
			"[{shot} {letter}\n\n]{question}\nA. {c0}\nB. {c1}\nC. {c2}\nD. {c3}\nAnswer:| A / B / C / D",
		version: llmcbenchVersion, metrics: []string{"acc"}, load: loadMMLU,
	},

	// ---- Track 6: trustworthiness ----------------------------------------
	truthfulQATask(VariantHarness, 1, "TruthfulQA multiple_choice validation, MC1 (the first choice is the right one)"),
	truthfulQATask(VariantHarness, 2, "TruthfulQA multiple_choice validation, MC2 (normalised probability mass of the true answers)"),
	truthfulQATask(VariantLLMCBench, 1, "TruthfulQA.csv as TruthfulQA's own MC scoring: MC1 = best answer beats every false answer"),
	truthfulQATask(VariantLLMCBench, 2, "TruthfulQA.csv as TruthfulQA's own MC scoring: MC2 = normalised probability mass of the correct answers"),
	advglueTask("advglue_sst2", "sst2", "adv_sst2"),
	advglueTask("advglue_qqp", "qqp", "adv_qqp"),
	advglueTask("advglue_mnli", "mnli", "adv_mnli"),
	advglueTask("advglue_mnli_mm", "mnli-mm", "adv_mnli_mismatched"),
	advglueTask("advglue_qnli", "qnli", "adv_qnli"),
	advglueTask("advglue_rte", "rte", "adv_rte"),
}

var (
	qnliData = dataSpec{Dirs: []string{"qnli", "glue"}, Split: "validation", Names: []string{"dev.tsv"},
		Prefer: []string{"qnli"},
		Source: "Hugging Face nyu-mll/glue config qnli (or QNLI/dev.tsv of the GLUE release)"}
	mmluColumns = "question, choices (4), answer (0-3), subject; or Hendrycks CSV rows: question, A, B, C, D, answer letter"
	mmluData    = dataSpec{Dirs: []string{"mmlu"}, Split: "test", Names: []string{"*_test.csv"},
		Source: "Hugging Face cais/mmlu or hails/mmlu_no_train (all/ or per-subject folders, test + dev), or Hendrycks' data.tar (test/*_test.csv, dev/*_dev.csv)"}
)

// truthfulQATask is TruthfulQA's MC1 or MC2 (mc) in one variant: the
// harness's multiple_choice dataset, or TruthfulQA.csv scored as
// TruthfulQA's own code does (LLMCBench), both after the QA primer.
func truthfulQATask(variant string, mc int, about string) *taskDef {
	name := fmt.Sprintf("truthfulqa_mc%d", mc)
	t := &taskDef{name: name, variant: variant, kind: kindMC, about: about, metrics: []string{"acc"}, load: loadTruthfulQA}
	dirs := []string{name, "truthfulqa", "truthful_qa"}
	if variant == VariantHarness {
		t.data = dataSpec{Dirs: dirs, Split: "validation", Prefer: []string{"multiple_choice"},
			Source: "Hugging Face truthfulqa/truthful_qa config multiple_choice"}
		t.columns = fmt.Sprintf("question, mc%[1]d_targets.choices, mc%[1]d_targets.labels", mc)
		t.template, t.version = "{6-question QA primer}\n\nQ: {question}\nA:| {choice}", harnessVersion
	} else {
		t.data = dataSpec{Dirs: dirs, Names: []string{"TruthfulQA.csv"}, Source: "TruthfulQA.csv of github.com/sylinrl/TruthfulQA"}
		t.columns = "Question, Best Answer, Correct Answers, Incorrect Answers"
		t.template, t.version = "{6-question QA primer}\n\nQ: {question}\nA:| {answer}", llmcbenchVersion
	}
	return t
}

// mnliTask is MNLI on one validation split (matched or mismatched) in one
// prompt variant: the harness's True / Neither / False continuations or
// LLMCBench's A/B/C letters.
func mnliTask(variant, name, split, which, about string) *taskDef {
	t := &taskDef{name: name, variant: variant, about: about, data: mnliData(name, split, which),
		columns: "premise, hypothesis, label (or sentence1, sentence2, gold_label)", load: loadMNLI}
	if variant == VariantHarness {
		t.kind, t.version, t.metrics = kindMC, harnessVersion, []string{"acc"}
		t.template = "{premise}\nQuestion: {hypothesis, ending in .} True, False or Neither?\nAnswer:| True / Neither / False"
	} else {
		t.kind, t.version, t.metrics = kindLetter, llmcbenchVersion, []string{"acc", "acc_all_rows"}
		t.template = llmcbenchMNLIHeader + "premise:{premise}\nhypothesis:{hypothesis}\nAnswer:| A / B / C"
	}
	return t
}

func mnliData(dir, split, which string) dataSpec {
	dirs := []string{dir, "mnli", "multinli_1.0", "glue"}
	if dir == "mnli" {
		dirs = dirs[1:]
	}
	return dataSpec{Dirs: dirs, Split: split,
		Names:  []string{"dev_" + which + ".tsv", "multinli_1.0_dev_" + which + ".jsonl", "multinli_1.0_dev_" + which + ".txt"},
		Prefer: []string{"mnli", "multinli_1.0"},
		Source: "Hugging Face nyu-mll/glue config mnli (or MNLI/dev_" + which + ".tsv of GLUE, or multinli_1.0_dev_" + which + ".jsonl/.txt)"}
}

// taskGroups are names that expand to several tasks.
var taskGroups = map[string][]string{
	"advglue":    {"advglue_sst2", "advglue_qqp", "advglue_mnli", "advglue_mnli_mm", "advglue_qnli", "advglue_rte"},
	"truthfulqa": {"truthfulqa_mc1", "truthfulqa_mc2"},
}

// registry maps a task name to its definitions (one per variant).
var registry = func() map[string][]*taskDef {
	m := map[string][]*taskDef{}
	for _, d := range taskList {
		m[d.name] = append(m[d.name], d)
	}
	return m
}()

// lookupTask returns the definition of a known task in the variant, or in
// the other variant when the task has only one.
func lookupTask(name, variant string) *taskDef {
	defs := registry[name]
	for _, d := range defs {
		if d.variant == variant {
			return d
		}
	}
	return defs[0]
}

// newResult starts a task's result with its configuration.
func (t *taskDef) newResult(e *env) *TaskResult {
	res := &TaskResult{
		Task: t.name, Kind: t.kind, Variant: t.variant,
		TemplateVersion: t.version, Template: t.template,
		AddBOS:  e.cfg.AddBOS,
		Metrics: map[string]float64{}, Counts: map[string]int{},
	}
	if t.shots {
		res.Shots = e.cfg.Shots
	}
	maxCtx := e.lm.MaxContext()
	switch {
	case e.cfg.Seqlen > 0:
		res.Seqlen = e.cfg.Seqlen
	case t.kind == kindPerplexity || t.kind == kindLetter:
		res.Seqlen = min(2048, maxCtx)
	default:
		res.Seqlen = maxCtx
	}
	if t.kind == kindPerplexity {
		res.AddBOS = false // recorded in the notes instead: special tokens come from the tokenizer
		res.Notes = append(res.Notes, "tokenized with the tokenizer's special tokens (tokenizer(text) in the reference)")
	}
	if e.cfg.PromptVariant != t.variant {
		res.Notes = append(res.Notes, "task has no "+e.cfg.PromptVariant+" variant; ran the "+t.variant+" one")
	}
	return res
}
