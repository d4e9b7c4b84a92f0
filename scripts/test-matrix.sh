#!/usr/bin/env bash
# Runs the README's test command (make test) under the settings a CI machine
# may have — OpenBLAS core types, one Go thread — and the whole suite in the
# pure-Go build, then prints one line per run: settings, CPU, result, time.
# Logs go to ${OUT:-test-matrix}/. Takes ~15-25 minutes on 2 cores.
#   bash scripts/test-matrix.sh            # every run
#   bash scripts/test-matrix.sh Haswell    # runs whose name contains Haswell
set -uo pipefail
cd "$(dirname "$0")/.."
# Every run executes every test: no cached results from another setting.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1"
out=${OUT:-test-matrix}
mkdir -p "$out"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
runs=(
  "coretype-unset|env -u OPENBLAS_CORETYPE make test"
  "coretype-Haswell|env OPENBLAS_CORETYPE=Haswell make test"
  "coretype-SkylakeX|env OPENBLAS_CORETYPE=SkylakeX make test"
  "GOMAXPROCS=1|env GOMAXPROCS=1 make test"
  "CGO_ENABLED=0-all|env CGO_ENABLED=0 go test ./..."
)
results=()
fail=0
for r in "${runs[@]}"; do
  name=${r%%|*}; cmd=${r#*|}
  if [ $# -gt 0 ] && [[ "$name" != *"$1"* ]]; then continue; fi
  start=$(date +%s)
  if bash -c "$cmd" > "$out/$name.log" 2>&1; then res=pass; else res=FAIL; fail=1; fi
  results+=("$(printf '%-20s %-5s %5ss  %s  (%s)' "$name" "$res" "$(( $(date +%s) - start ))" "$cpu" "$cmd")")
  echo "${results[-1]}"
done
echo
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)"
printf '%s\n' "${results[@]}"
exit $fail
