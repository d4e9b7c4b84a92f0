#!/usr/bin/env python3
"""peer_decode.py — the PyTorch/transformers peer for gollm's GPU benchmarks.

Measures, on the same shapes as `gollm generate --device cuda --random-weights`
and `go test -tags cuda -bench`, in one process on one GPU:

  * kernels: device-to-device copy bandwidth (1 GiB, read + write counted) and
    fp16 F.linear at batch 1 for LLaMA-2-7B's matrices (rotating over >= 256 MB
    of weight copies so that every call reads HBM, as the Go benchmark does);
  * transformers eager, LLaMA-2-7B config, random fp16 weights, batch 1: prefill
    of --prefill tokens (one forward, last position's logits) and decode
    tokens/s from a --prompt-token prompt (greedy, --new tokens, EOS ignored);
  * the same decode with a static KV cache and torch.compile (default mode).

Decode tokens/s = (new - 1) / (t(new tokens) - t(1 token)): the prefill and the
first token cancel. Prints one JSON object on stdout; progress on stderr.

Usage: python3 scripts/peer_decode.py --config scripts/llama2-7b-config.json \
           [--prompt 128] [--new 256] [--prefill 2048] [--no-compile]
"""
import argparse
import json
import sys
import time
import traceback

import torch
import torch.nn.functional as F


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def event_ms(fn, n):
    """Milliseconds per call of fn over n calls, after one warm-up call."""
    fn(0)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for i in range(n):
        fn(i)
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / n


def kernels():
    out = {}
    size = 1 << 30
    src = torch.empty(size, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = event_ms(lambda i: dst.copy_(src), 10)
    peak = 2 * size / ms / 1e6
    out["copy_GBps"] = peak
    del src, dst
    x = torch.randn(1, 4096, dtype=torch.float16, device="cuda")
    for o, i in [(4096, 4096), (11008, 4096), (4096, 11008), (32000, 4096), (14336, 4096), (4096, 14336)]:
        nbytes = o * i * 2
        copies = max(1, (256 << 20) // nbytes + 1)
        ws = [torch.randn(o, i, dtype=torch.float16, device="cuda") for _ in range(copies)]
        xi = torch.randn(1, i, dtype=torch.float16, device="cuda")
        ms = event_ms(lambda k: F.linear(xi, ws[k % copies]), 50)
        out[f"linear_{o}x{i}"] = {"us": ms * 1e3, "GBps": nbytes / ms / 1e6, "pct_peak": 100 * nbytes / ms / 1e6 / peak}
        del ws
    del x
    torch.cuda.empty_cache()
    return out


def build_model(config_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    with open(config_path) as f:
        raw = json.load(f)
    for k in ("torch_dtype", "dtype", "transformers_version", "_name_or_path"):
        raw.pop(k, None)
    cfg = LlamaConfig(**raw)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float16)
    try:
        with torch.device("cuda"):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(torch.float32)
    return model.eval()


def timed(fn):
    torch.cuda.synchronize()
    t = time.perf_counter()
    r = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t, r


def decode_rate(model, prompt, new, **kw):
    mask = torch.ones_like(prompt)

    def gen(n):
        return model.generate(prompt, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                              pad_token_id=0, **kw)

    gen(2)
    gen(new)  # warm-up (compiles, with the static cache)
    t1 = min(timed(lambda: gen(1))[0] for _ in range(3))
    tn, out = timed(lambda: gen(new))
    assert out.shape[1] == prompt.shape[1] + new, out.shape
    return {"decode_tokens_per_s": (new - 1) / (tn - t1), "t_1_token_s": t1, "t_new_tokens_s": tn}


def prefill_ms(model, ids):
    def fwd():
        try:
            return model(ids, logits_to_keep=1, use_cache=False)
        except TypeError:
            return model(ids, use_cache=False)

    with torch.no_grad():
        fwd()
        return 1e3 * min(timed(fwd)[0] for _ in range(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--new", type=int, default=256)
    ap.add_argument("--prefill", type=int, default=2048)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--skip-kernels", action="store_true")
    a = ap.parse_args()
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "prompt": a.prompt, "new": a.new,
           "prefill_tokens": a.prefill}
    try:
        import transformers

        res["transformers"] = transformers.__version__
    except Exception:
        pass
    if not a.skip_kernels:
        log("peer: kernels")
        res["kernels"] = kernels()
    log("peer: building the model")
    model = build_model(a.config)
    vocab = model.config.vocab_size
    g = torch.Generator(device="cpu").manual_seed(1)
    prompt = torch.randint(3, vocab, (1, a.prompt), generator=g).cuda()
    long_ids = torch.randint(3, vocab, (1, a.prefill), generator=g).cuda()
    with torch.no_grad():
        log("peer: eager prefill")
        eager = {"prefill_ms": prefill_ms(model, long_ids)}
        log("peer: eager decode")
        eager.update(decode_rate(model, prompt, a.new))
        eager["peak_memory_GiB"] = torch.cuda.max_memory_allocated() / 2**30
    res["eager"] = eager
    if not a.no_compile:
        log("peer: static cache + torch.compile (compiles for a minute or more)")
        try:
            model.generation_config.cache_implementation = "static"
            model.forward = torch.compile(model.forward, mode="default")
            with torch.no_grad():
                t0 = time.perf_counter()
                res["compiled"] = decode_rate(model, prompt, a.new)
                res["compiled"]["wall_s_including_compile"] = time.perf_counter() - t0
        except Exception as e:
            res["compiled"] = {"error": f"{type(e).__name__}: {e}"}
            traceback.print_exc()
    json.dump(res, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
