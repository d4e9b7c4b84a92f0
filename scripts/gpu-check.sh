#!/usr/bin/env bash
# gpu-check.sh — gollm's GPU check in one run on a GPU machine (no Go needed).
#
#   1. the cuda package's tests (GPU vs CPU on every fixture, every kernel);
#   2. its benchmarks (copy peak, GEMV, decode attention, LLaMA-2-7B decode
#      step and 2048-token prefill);
#   3. `gollm generate --device cuda --random-weights` on LLaMA-2-7B's config
#      (decode from a PROMPT-token prompt, then a PREFILL-token prefill);
#   4. the PyTorch/transformers peer on the same shapes (scripts/peer_decode.py:
#      kernels, eager, static cache + torch.compile);
#   5. one summary table, printed last.
#
# Needs the prebuilt bin/cuda.test and bin/gollm-cuda (`make cuda-bins` on a
# build machine; see docs/GPU.md), python3 with torch and transformers for the
# peer. Logs go to $OUT (8 files at most): env.txt test.log bench.log
# generate.json generate.log peer.json peer.log summary.md.
# Environment: OUT (default: a new temporary folder), BIN (default bin),
# CONFIG (scripts/llama2-7b-config.json: the model for generate and the peer),
# PROMPT (128), NEW (256), PREFILL (2048), BENCHTIME (20x), SKIP_PEER=1,
# SKIP_COMPILE=1 (peer without torch.compile), GOLLM_CUBLAS (a libcublas path).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$(mktemp -d /tmp/gpu-check.XXXXXX)}
mkdir -p "$OUT"
BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
CONFIG=${CONFIG:-scripts/llama2-7b-config.json}
PROMPT=${PROMPT:-128}
NEW=${NEW:-256}
PREFILL=${PREFILL:-2048}
BENCHTIME=${BENCHTIME:-20x}
T0=$(date +%s)
step() { echo "== [$(( $(date +%s) - T0 ))s] $*" >&2; }

for f in "$BIN/cuda.test" "$BIN/gollm-cuda"; do
	[ -x "$f" ] || { echo "gpu-check: $f missing: build it with make cuda-bins (docs/GPU.md)" >&2; exit 2; }
done

step "environment"
{
	date -u +"%Y-%m-%dT%H:%M:%SZ"
	nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory,clocks.max.sm --format=csv 2>&1
	nvidia-smi 2>&1 | head -12
	uname -a
	nproc
	free -g | head -2
} > "$OUT/env.txt" 2>&1

# cuBLAS: the binaries dlopen it by soname; point them at a copy when the
# loader's path has none (CUDA toolkit or PyTorch's pip wheels).
if [ -z "${GOLLM_CUBLAS:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.1[1-9]'; then
	GOLLM_CUBLAS=$(timeout 30 find /usr/local /usr/lib /opt /root -name 'libcublas.so.1[1-9]*' -not -name '*Lt*' 2>/dev/null | sort -V | tail -1)
fi
if [ -n "${GOLLM_CUBLAS:-}" ]; then
	export GOLLM_CUBLAS
	export LD_LIBRARY_PATH="$(dirname "$GOLLM_CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
echo "cuBLAS: ${GOLLM_CUBLAS:-found by the dynamic loader}" >> "$OUT/env.txt"

step "tests (bin/cuda.test)"
(cd cuda && timeout 300 "$BIN/cuda.test" -test.count=1 -test.v -test.timeout=290s) > "$OUT/test.log" 2>&1
TEST_RC=$?
step "tests exit $TEST_RC: $(grep -c -- '--- PASS' "$OUT/test.log") passed, $(grep -c -- '--- FAIL' "$OUT/test.log") failed"

step "benchmarks"
(cd cuda && timeout 360 "$BIN/cuda.test" -test.run='^$' -test.bench=. -test.benchtime="$BENCHTIME" -test.timeout=350s) > "$OUT/bench.log" 2>&1
step "benchmarks exit $?"

step "gollm generate --device cuda --random-weights ($CONFIG)"
MODEL=$(mktemp -d /tmp/llama2-7b.XXXXXX)
cp "$CONFIG" "$MODEL/config.json"
ids() { seq -s, 1000 $((1000 + $1 - 1)); }
: > "$OUT/generate.json"
timeout 240 "$BIN/gollm-cuda" generate --device cuda --random-weights --model "$MODEL" --ids "$(ids "$PROMPT")" \
	--max-new-tokens "$NEW" --greedy --ignore-eos --json >> "$OUT/generate.json" 2> "$OUT/generate.log"
timeout 240 "$BIN/gollm-cuda" generate --device cuda --random-weights --model "$MODEL" --ids "$(ids "$PREFILL")" \
	--max-new-tokens 2 --greedy --ignore-eos --json >> "$OUT/generate.json" 2>> "$OUT/generate.log"
rm -rf "$MODEL"

if [ "${SKIP_PEER:-}" != 1 ]; then
	step "PyTorch/transformers peer"
	peer_args=(--config "$CONFIG" --prompt "$PROMPT" --new "$NEW" --prefill "$PREFILL")
	[ "${SKIP_COMPILE:-}" = 1 ] && peer_args+=(--no-compile)
	timeout 420 python3 scripts/peer_decode.py "${peer_args[@]}" > "$OUT/peer.json" 2> "$OUT/peer.log"
	step "peer exit $?"
fi

step "summary"
OUT="$OUT" TEST_RC="$TEST_RC" python3 - <<'EOF' | tee "$OUT/summary.md"
import json, os, re

out = os.environ["OUT"]

def read(name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read()
    except OSError:
        return ""

bench = {}
for line in read("bench.log").splitlines():
    if not line.startswith("Benchmark"):
        continue
    f = line.split()
    name = re.sub(r"-\d+$", "", f[0])
    vals = {}
    for i in range(2, len(f) - 1, 2):
        try:
            vals[f[i + 1]] = float(f[i])
        except ValueError:
            pass
    bench[name] = vals

def objects(text):
    dec, i, objs = json.JSONDecoder(), 0, []
    while True:
        j = text.find("{", i)
        if j < 0:
            return objs
        try:
            o, i = dec.raw_decode(text, j)
            objs.append(o)
        except ValueError:
            return objs

gen = objects(read("generate.json"))
try:
    peer = json.loads(read("peer.json"))
except ValueError:
    peer = {}
env = read("env.txt").splitlines()
tl = read("test.log")

def fmt(v, spec=".1f"):
    return "–" if v is None else format(v, spec)

def b(name, unit):
    return bench.get(name, {}).get(unit)

rows = []
dec = b("BenchmarkDecodeLlama7B", "tokens/s")
rows.append(("decode tok/s, LLaMA-2-7B fp16, batch 1 (bench, ctx 128)", fmt(dec),
             fmt(peer.get("eager", {}).get("decode_tokens_per_s")),
             fmt(peer.get("compiled", {}).get("decode_tokens_per_s")),
             "≥ 250 on H200; bound " + fmt(b("BenchmarkDecodeLlama7B", "bound-tokens/s"), ".0f")))
rows.append(("decode tok/s, gollm generate (%s new tokens)" % (gen[0].get("new_tokens") if gen else "–"),
             fmt(gen[0].get("decode_tokens_per_s") if gen else None), "", "", ""))
rows.append(("decode weights GB/s (% of copy)", "%s (%s%%)" % (fmt(b("BenchmarkDecodeLlama7B", "GB/s"), ".0f"),
             fmt(b("BenchmarkDecodeLlama7B", "%peak"), ".0f")), "", "", ""))
rows.append(("prefill 2048 tokens, ms (bench)", fmt(b("BenchmarkPrefillLlama7B", "ms")),
             fmt(peer.get("eager", {}).get("prefill_ms")), "", "≤ eager (65 ms on H200)"))
rows.append(("prefill 2048 tokens, ms (gollm generate)", fmt(gen[1].get("prefill_ms") if len(gen) > 1 else None), "", "", ""))
rows.append(("prefill linear TFLOP/s", fmt(b("BenchmarkPrefillLlama7B", "linear-TFLOP/s")), "", "", ""))
k = peer.get("kernels", {})
rows.append(("device copy GB/s (read+write)", fmt(b("BenchmarkCopy", "memcpy-GB/s"), ".0f"),
             fmt(k.get("copy_GBps"), ".0f"), "", "4230 on H200"))
for shape in ["4096x4096", "11008x4096", "4096x11008", "32000x4096", "14336x4096", "4096x14336"]:
    best = None
    for r in (1, 2, 4):
        v = bench.get("BenchmarkGEMV/%s/r%d" % (shape, r))
        if v and (best is None or v.get("GB/s", 0) > best[1].get("GB/s", 0)):
            best = (r, v)
    pk = k.get("linear_" + shape, {})
    ours = "–" if best is None else "%s µs, %s GB/s (%s%%, r%d)" % (
        fmt(best[1].get("us/call")), fmt(best[1].get("GB/s"), ".0f"), fmt(best[1].get("%peak"), ".0f"), best[0])
    theirs = "–" if not pk else "%s µs, %s GB/s (%s%%)" % (fmt(pk.get("us")), fmt(pk.get("GBps"), ".0f"), fmt(pk.get("pct_peak"), ".0f"))
    rows.append(("fp16 GEMV %s (out×in)" % shape, ours, theirs, "", ""))
for ctx in (512, 2048, 4096):
    v = bench.get("BenchmarkAttentionDecode/%d" % ctx)
    if v:
        rows.append(("decode attention, 32×128 heads, ctx %d" % ctx,
                     "%s µs, %s GB/s (%s%%)" % (fmt(v.get("us/call")), fmt(v.get("GB/s"), ".0f"), fmt(v.get("%peak"), ".0f")), "", "", ""))

passed, failed = tl.count("--- PASS"), tl.count("--- FAIL")
print("## gollm GPU check — %s" % (env[0] if env else ""))
print()
print("device: %s" % (env[2] if len(env) > 2 else "?"))
print("peer: torch %s, transformers %s" % (peer.get("torch", "–"), peer.get("transformers", "–")))
print("tests: %d passed, %d failed (exit %s)" % (passed, failed, os.environ.get("TEST_RC")))
print()
print("| measure | gollm | transformers eager | static cache + compile | target / bound |")
print("| --- | --- | --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(r) + " |")
EOF
step "done: logs in $OUT"
exit "$TEST_RC"
