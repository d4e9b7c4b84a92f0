#!/usr/bin/env bash
# engines-compare.sh: gollm serve and llama.cpp (node-llama-cpp, make
# llamacpp) on the same model and lengths, dense and 8-/4-bit, in one run,
# through gollm loadgen --engine (each run starts its engine on a free
# port, waits for /health, measures, stops it). Prints a Markdown table
# (docs/PERFORMANCE.md, "gollm serve and llama.cpp") and keeps every
# loadgen JSON in $OUT.
#
#   bash scripts/engines-compare.sh                  # defaults below
#   MODEL=DIR CONC="1 4 16" PROMPTS=32 bash scripts/engines-compare.sh
#
# MODEL: a LLaMA Hugging Face folder with a SentencePiece tokenizer
# (default: a random LLaMA built here from scripts/engines-model.json with
# llama2-tiny's tokenizer, vocabulary 32000). gollm serves MODEL (dense),
# gollm compress rtn:bits=8,group=128 and rtn:bits=4,group=32 of it;
# llama.cpp serves gollm export --format gguf of MODEL at f16, q8_0, q4_0.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-engines-out}
GOLLM=${GOLLM:-bin/gollm}
MODEL=${MODEL:-}
IN=${IN:-32}
OUTLEN=${OUTLEN:-128}
CONC=${CONC:-"1 4"}
PROMPTS=${PROMPTS:-8}
THREADS=${THREADS:-2}
PARALLEL=${PARALLEL:-16}
VOCAB=${VOCAB:-32000}
mkdir -p "$OUT"
[ -x "$GOLLM" ] || make build >&2

if [ -z "$MODEL" ]; then
	MODEL=$OUT/model
	if [ ! -f "$MODEL/model.safetensors" ]; then
		go run ./scripts/mkcheckpoint --config scripts/engines-model.json --out "$MODEL" --dtype f16 >&2
		cp testdata/llama2-tiny/tokenizer.model testdata/llama2-tiny/generation_config.json "$MODEL/"
	fi
fi
ckpt() { # ckpt NAME SPEC: gollm compress MODEL once into $OUT/NAME
	[ -f "$OUT/$1/config.json" ] || "$GOLLM" compress --model "$MODEL" --method "$2" --out "$OUT/$1" >&2
}
gguf() { # gguf DTYPE: gollm export MODEL once into $OUT/model-DTYPE.gguf
	[ -f "$OUT/model-$1.gguf" ] || "$GOLLM" export --model "$MODEL" --format gguf --dtype "$1" --out "$OUT/model-$1.gguf" >&2
}
ckpt rtn8 rtn:bits=8,group=128
ckpt rtn4 rtn:bits=4,group=32
for d in f16 q8_0 q4_0; do gguf $d; done

# engine|weights|what it loads
runs=("gollm|dense (f16 file)|$MODEL" "gollm|rtn W8 g128|$OUT/rtn8" "gollm|rtn W4 g32|$OUT/rtn4"
	"llamacpp|f16|$OUT/model-f16.gguf" "llamacpp|q8_0|$OUT/model-q8_0.gguf" "llamacpp|q4_0|$OUT/model-q4_0.gguf")
llama=1
node_ok=$(node -e 'process.exit(0)' 2>/dev/null && [ -f "${LLAMACPP_DIR:-.cache/llamacpp}/node_modules/node-llama-cpp/package.json" ] && echo 1 || echo 0)
[ "$node_ok" = 1 ] || { llama=0; echo "llama.cpp rows skipped: node-llama-cpp is not installed (make llamacpp)" >&2; }

echo "| engine | weights | concurrency | output tok/s | vs dense | median TTFT ms | median TPOT ms | completed |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
declare -A dense
for c in $CONC; do
	for r in "${runs[@]}"; do
		IFS='|' read -r engine weights path <<<"$r"
		if [ "$engine" = llamacpp ] && [ "$llama" = 0 ]; then
			echo "| llama.cpp | $weights | $c | not installed | | | | |"
			continue
		fi
		json="$OUT/$engine-$(basename "$path" .gguf)-c$c.json"
		"$GOLLM" loadgen --engine "$engine" --model "$path" --num-prompts "$PROMPTS" --input-len "$IN" --output-len "$OUTLEN" \
			--concurrency "$c" --engine-parallel "$PARALLEL" --engine-threads "$THREADS" --vocab-size "$VOCAB" \
			--seed 0 --out "$json" >/dev/null
		tps=$(jq -r '.metrics.output_throughput' "$json")
		if [ -z "${dense[$engine$c]:-}" ]; then dense[$engine$c]=$tps; fi
		jq -r --arg w "$weights" --arg c "$c" --arg d "${dense[$engine$c]}" \
			'"| \(.engine) | \($w) | \($c) | \(.metrics.output_throughput*100|round/100) | \(.metrics.output_throughput/($d|tonumber)*100|round/100)× | \(.metrics.ttft_ms.median*10|round/10) | \(.metrics.tpot_ms.median*10|round/10) | \(.metrics.completed)/\(.config.num_prompts) |"' "$json"
	done
done
