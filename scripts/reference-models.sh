#!/usr/bin/env bash
# reference-models.sh — reproduce gollm's reference models (issue 13,
# docs/RESULTS.md "Reference models"): the world → its tokenizer → each
# model of refmodels/models.tsv trained with gollm train → a bf16 copy with
# tokenizer and generation config in refmodels/<name>/ → its scores on every
# world task → refmodels/logs/ (loss curves, eval JSON, loss.svg, results.md).
#
#   make reference-models                     # everything, to the end
#   BUDGET=1200 make reference-models         # at most 20 min of training per model, then stop
#   scripts/reference-models.sh llama         # only the models named
#
# Resumable: a run that is not finished (Ctrl-C, BUDGET spent, a crash after
# a checkpoint) continues with `gollm train --resume` when the script runs
# again; a finished run is not retrained. Same command and THREADS ⇒ the
# same checkpoint bytes (the training logs hold timings, which differ).
#
# Environment: GOLLM (bin/gollm), WORK (build/refmodels: world, tokenizer,
# float32 training runs with their optimizer state), DEST (refmodels: what
# is committed), THREADS (2), BUDGET (seconds of training per model per
# invocation; 0: no limit), NICE (0; 19 lets other work go first), SEED (1),
# SCALE (2), REPEAT (32), VOCAB (2048), EVAL_LIMIT (0: every item).
set -euo pipefail

cd "$(dirname "$0")/.."
GOLLM=${GOLLM:-bin/gollm}
WORK=${WORK:-build/refmodels}
DEST=${DEST:-refmodels}
THREADS=${THREADS:-2}
BUDGET=${BUDGET:-0}
NICE=${NICE:-0}
SEED=${SEED:-1}
SCALE=${SCALE:-2}
REPEAT=${REPEAT:-32}
VOCAB=${VOCAB:-2048}
EVAL_LIMIT=${EVAL_LIMIT:-0}
TASKS=mmlu,arc_easy,arc_challenge,hellaswag,piqa,winogrande,qnli,mnli,mnli_mismatch,wikitext2,truthfulqa,advglue

die() { echo "reference-models: $*" >&2; exit 2; }
[ -x "$GOLLM" ] || die "GOLLM=$GOLLM is not an executable (run make build)"
[ -f "$DEST/models.tsv" ] || die "$DEST/models.tsv is missing"
mkdir -p "$WORK" "$DEST/logs"
WORK=$(cd "$WORK" && pwd) # gollm train --resume reads the data from the absolute path it saved
gollm() { nice -n "$NICE" "$GOLLM" "$@"; }

world=$WORK/world
if [ -f "$world/MANIFEST.json" ]; then
	have=$(jq -r '"\(.seed) \(.scale) \(.repeat)"' "$world/MANIFEST.json")
	[ "$have" = "$SEED $SCALE $REPEAT" ] ||
		die "$world holds the world of seed, scale, repeat $have, not $SEED $SCALE $REPEAT; use another WORK"
else
	gollm synth --seed "$SEED" --scale "$SCALE" --repeat "$REPEAT" --out "$world" >"$WORK/synth.log"
fi
# The prefix space makes "A" alone the token that follows "Answer:" (ĠA),
# the token LLMCBench's letter prompts score (docs/WORLD.md "Tokenizer").
tok=$WORK/tokenizer
if [ -f "$tok/tokenizer.json" ]; then
	[ "$(jq -r '.pre_tokenizer.add_prefix_space' "$tok/tokenizer.json")" = true ] ||
		die "$tok holds a tokenizer without the prefix space (tokenizer-train --add-prefix-space); use another WORK"
else
	gollm tokenizer-train --add-prefix-space --data "$world/corpus/train.txt" --vocab-size "$VOCAB" --out "$tok"
fi

# saved_step DIR: the last step of the run saved in DIR (0 if none).
saved_step() {
	if [ -f "$1/loss.csv" ] && [ -f "$1/trainer_state.safetensors" ]; then
		tail -n 1 "$1/loss.csv" | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0
	else
		echo 0
	fi
}

# train NAME ARCH CONFIG STEPS BATCH SEQLEN LR: start or continue the run;
# returns 0 when it has reached STEPS, 3 when BUDGET stopped it first.
train() {
	local name=$1 arch=$2 config=$3 steps=$4 batch=$5 seqlen=$6 lr=$7
	local run=$WORK/runs/$name step rc=0
	mkdir -p "$WORK/runs"
	step=$(saved_step "$run")
	if [ "$step" -ge "$steps" ]; then
		return 0
	fi
	local args
	if [ "$step" -gt 0 ]; then
		echo "== $name: resuming at step $step of $steps"
		args=(train --resume --out "$run" --steps "$steps" --threads "$THREADS")
	else
		echo "== $name: training $steps steps ($arch, $config)"
		args=(train --arch "$arch" --config "$DEST/configs/$config" --tokenizer "$tok" \
			--data "$world/corpus/train.txt" --steps "$steps" --batch "$batch" --seqlen "$seqlen" \
			--lr "$lr" --seed "$SEED" --save-every 100 --threads "$THREADS" --out "$run")
	fi
	if [ "$BUDGET" -gt 0 ]; then
		# SIGTERM makes gollm train save the current step and exit.
		timeout --signal=TERM "$BUDGET" nice -n "$NICE" "$GOLLM" "${args[@]}" 2>>"$DEST/logs/$name.train.log" || rc=$?
	else
		gollm "${args[@]}" 2>>"$DEST/logs/$name.train.log" || rc=$?
	fi
	cp "$run/loss.csv" "$DEST/logs/$name.loss.csv" 2>/dev/null || true
	step=$(saved_step "$run")
	if [ "$step" -ge "$steps" ]; then
		return 0
	fi
	if [ "$rc" -eq 124 ] || { [ "$rc" -eq 1 ] && tail -n 1 "$DEST/logs/$name.train.log" | grep -q interrupted; }; then
		echo "== $name: stopped at step $step of $steps (BUDGET or interrupt); run again to continue"
		return 3
	fi
	echo "reference-models: gollm train of $name failed (exit $rc); see $DEST/logs/$name.train.log" >&2
	exit 1
}

want=" $* "
while read -r name arch config steps batch seqlen lr; do
	case $name in '' | '#'*) continue ;; esac
	if [ $# -gt 0 ] && [[ $want != *" $name "* ]]; then
		continue
	fi
	rc=0
	train "$name" "$arch" "$config" "$steps" "$batch" "$seqlen" "$lr" || rc=$?
	[ "$rc" -eq 0 ] || continue
	gollm convert --model "$WORK/runs/$name" --dtype bf16 --out "$DEST/$name" --threads "$THREADS"
	gollm eval --model "$DEST/$name" --data "$world/tasks" --tasks "$TASKS" --limit "$EVAL_LIMIT" \
		--threads "$THREADS" --out "$DEST/logs/$name.eval.json" 2>"$WORK/$name.eval.log" >/dev/null
done <"$DEST/models.tsv"

bash scripts/refmodels-report.sh "$DEST"
