#!/bin/bash
# Writes gollm checkpoints of the tiny fixtures in every packed format and
# checks them with the peers' own dequantization code (check.py).
#   scripts/compat/run.sh AUTOGPTQ_DIR AUTOAWQ_DIR COMPRESSED_TENSORS_DIR [WORKDIR]
# Each *_DIR is a checkout (or extract) of that project's sources; see
# scripts/compat/README.md. Needs python3-torch and python3-numpy.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,6p "$0"; exit 2; }
gptq=$1 awq=$2 ct=$3 work=${4:-$(mktemp -d)}
cd "$(dirname "$0")/../.."
go build -o "$work/gollm" ./cmd/gollm
go build -o "$work/dump" ./scripts/compat/dump
calib=testdata/calib/c4-sample.jsonl
one() {
	local name=$1; shift
	"$work/gollm" compress --calib $calib --nsamples 6 --seqlen 48 --out "$work/$name" "$@" > /dev/null 2> "$work/$name.log"
	"$work/dump" "$work/$name" "$work/$name.gollm.safetensors" > /dev/null
	dirs+=("$work/$name")
}
dirs=()
one gptq4-llama2       --model testdata/llama2-tiny --method gptq --bits 4 --group-size 8
one gptq3-opt          --model testdata/opt-tiny    --method gptq --bits 3 --group-size 32
one gptq2-opt          --model testdata/opt-tiny    --method gptq --bits 2 --group-size 32
one gptq4-actorder-opt --model testdata/opt-tiny    --method gptq --bits 4 --group-size 32 --act-order
one gptq8-sym-llama3   --model testdata/llama3-tiny --method gptq --bits 8 --group-size 16 --sym
one rtn4-llama3        --model testdata/llama3-tiny --method rtn  --bits 4 --group-size 16
one awq4-llama2        --model testdata/llama2-tiny --method awq  --bits 4 --group-size 8 --sampling window
one awq4-opt           --model testdata/opt-tiny    --method awq  --bits 4 --group-size 32 --sampling window
one sq-llama2          --model testdata/llama2-tiny --method smoothquant
one sq-opt             --model testdata/opt-tiny    --method smoothquant
one sgpt24-opt         --model testdata/opt-tiny    --method sparsegpt --pattern 2:4
one wanda24-llama3     --model testdata/llama3-tiny --method wanda --pattern 2:4
py=python3
for p in /usr/bin/python3 python3; do if $p -c 'import torch, numpy' 2> /dev/null; then py=$p; break; fi; done
$py scripts/compat/check.py --autogptq "$gptq" --autoawq "$awq" --ctensors "$ct" "${dirs[@]}"
