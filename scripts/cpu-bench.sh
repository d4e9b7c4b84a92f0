#!/usr/bin/env bash
# Runs the CPU benchmarks that docs/PERFORMANCE.md records, writing one log
# per group under ${OUT:-bench-out}/. Run it on a quiet machine:
#   bash scripts/cpu-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench-out}
mkdir -p "$out"
{ date -u; uname -m; nproc; grep -m1 'model name' /proc/cpuinfo; free -g | sed -n 2p; go version; } > "$out/machine.txt"
run() { local name=$1; shift; echo "== $name: go test $*" | tee "$out/$name.txt"; go test "$@" 2>&1 | tee -a "$out/$name.txt" | grep -E '^Benchmark|^ok|FAIL' ; }
run kernels -run='^$' -bench='^Benchmark(CopyBandwidth|Sgemm|SgemmOpenBLAS|LinearGEMV)$' -count=3 ./kernels/
run kernels-purego -tags purego -run='^$' -bench='^Benchmark(Sgemm|LinearGEMV)$' -count=1 ./kernels/
run quant -run='^$' -bench='^BenchmarkGEMV' -count=3 ./kernels/
run models -run='^$' -bench='Decode100M|Prefill100M' -benchtime=20x -count=3 ./models/
run tokenizer -run='^$' -bench='BenchmarkEncode$|BenchmarkEncodeBatch' -benchtime=10x -count=3 ./tokenizer/
run eval -run='^$' -bench='BenchmarkEval100M' -benchtime=1x ./eval/evalmodel/
run train -run='^$' -bench='TrainStep' -benchtime=10x -count=3 ./train/
run compress -run='^$' -bench='BenchmarkCompress' -benchtime=1x ./compress/
