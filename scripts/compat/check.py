#!/usr/bin/env python3
"""Check gollm's quantized and 2:4 checkpoints with the peers' own code.

For every decoder-block linear of a checkpoint written by `gollm compress`,
the weights are rebuilt by the reference project's own dequantization code,
imported from a local checkout of its sources, and compared with the float
weights gollm computes with (written by `go run ./scripts/compat/dump`):

  gptq  AutoGPTQ  auto_gptq/nn_modules/qlinear/qlinear_cuda.py QuantLinear,
                  its pure-torch forward (the path used off-GPU) on identity
                  rows, with float32 scales so no float16 rounding enters
  awq   AutoAWQ   awq/utils/packing_utils.py dequantize_gemm
  2:4   compressed-tensors  sparse24_bitmask_decompress + unpack_bitmasks,
                  taken by name from their source files (the package itself
                  needs pydantic 2 and transformers, which are not here)
  w8a8  compressed-tensors int-quantized: the layout and quantization_config
                  are checked against the schema; weights = int8 * scale

Usage (see README.md): check.py --autogptq DIR --autoawq DIR --ctensors DIR CKPT...
where each CKPT folder has CKPT.gollm.safetensors beside it. Prints one line
per checkpoint and exits 1 on any mismatch. Needs python3-torch, python3-numpy.
"""
import argparse
import ast
import importlib.util
import json
import os
import struct
import sys
import types

import numpy
import torch

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
      "I32": torch.int32, "I64": torch.int64, "I8": torch.int8, "U8": torch.uint8,
      "I16": torch.int16}


def read_safetensors(path):
    """Returns {name: tensor} of one safetensors file (all of it in memory)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = bytearray(data[a:b])
        t = torch.frombuffer(buf, dtype=DT[info["dtype"]]) if b > a else torch.empty(0, dtype=DT[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def read_checkpoint(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    out = {}
    for f in files:
        out.update(read_safetensors(os.path.join(d, f)))
    return out


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def functions_from_source(path, names, env):
    """Executes the named top-level functions of a Python file in env."""
    tree = ast.parse(open(path).read())
    keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    missing = set(names) - {n.name for n in keep}
    if missing:
        raise SystemExit(f"{path}: functions {sorted(missing)} not found")
    exec(compile(ast.Module(body=keep, type_ignores=[]), path, "exec"), env)
    return env


class Peers:
    def __init__(self, a):
        # transformers is only used by AutoGPTQ's pack(); a stub lets the
        # module import without it.
        tf = types.ModuleType("transformers")
        tf.pytorch_utils = types.SimpleNamespace(Conv1D=type("Conv1D", (), {}))
        sys.modules.setdefault("transformers", tf)
        self.gptq = load_module(os.path.join(a.autogptq, "auto_gptq/nn_modules/qlinear/qlinear_cuda.py"), "qlinear_cuda")
        self.awq = load_module(os.path.join(a.autoawq, "awq/utils/packing_utils.py"), "awq_packing_utils")
        if tuple(int(x) for x in torch.__version__.split(".")[:2]) < (2, 0):
            # AutoAWQ indexes with an int32 arange, which torch < 2.0 (Debian
            # 12 ships 1.13) refuses; give its module an arange that makes
            # int64 indices instead. The values are the same.
            def arange(*args, dtype=None, **kw):
                return torch.arange(*args, dtype=torch.int64 if dtype == torch.int32 else dtype, **kw)
            self.awq.torch = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})
            self.awq.torch.arange = arange
        env = {"torch": torch, "numpy": numpy, "Tensor": torch.Tensor, "List": list}
        src = os.path.join(a.ctensors, "src/compressed_tensors")
        functions_from_source(os.path.join(src, "utils/helpers.py"), ["unpack_bitmasks"], env)
        functions_from_source(os.path.join(src, "compressors/sparse_compressors/sparse_24_bitmask.py"),
                              ["sparse24_bitmask_decompress"], env)
        self.ct = env


def gptq_weight(peers, ck, prefix, qc):
    qw = ck[prefix + ".qweight"]
    bits, gs = qc["bits"], qc["group_size"]
    infeatures, outfeatures = qw.shape[0] * 32 // bits, qw.shape[1]
    m = peers.gptq.QuantLinear(bits, gs, infeatures, outfeatures, bias=False)
    m.qweight = qw.clone()
    m.qzeros = ck[prefix + ".qzeros"].clone()
    m.scales = ck[prefix + ".scales"].to(torch.float32)
    m.g_idx = ck[prefix + ".g_idx"].clone()
    with torch.no_grad():
        wt = m(torch.eye(infeatures, dtype=torch.float32))  # x · Wᵀ with x = I
    return wt.t().contiguous()


def awq_weight(peers, ck, prefix, qc):
    w = peers.awq.dequantize_gemm(ck[prefix + ".qweight"], ck[prefix + ".qzeros"],
                                  ck[prefix + ".scales"].to(torch.float32), qc["bits"], qc["group_size"])
    return w.t().contiguous()


def sparse24_weight(peers, ck, prefix):
    shape = ck[prefix + ".shape"].flatten().tolist()
    w = peers.ct["sparse24_bitmask_decompress"](ck[prefix + ".compressed"], ck[prefix + ".bitmask"], shape)
    return w.to(torch.float32)


def w8a8_weight(ck, prefix, qc):
    g = qc["config_groups"]["group_0"]
    wq, ia = g["weights"], g["input_activations"]
    assert qc["format"] == "int-quantized" and qc["quant_method"] == "compressed-tensors", qc
    assert wq["num_bits"] == 8 and wq["symmetric"] and wq["strategy"] == "channel" and wq["type"] == "int", wq
    assert ia["num_bits"] == 8 and ia["dynamic"] and ia["strategy"] == "token", ia
    q = ck[prefix + ".weight"]
    assert q.dtype == torch.int8, q.dtype
    s = ck[prefix + ".weight_scale"].to(torch.float32)
    assert s.shape == (q.shape[0], 1), s.shape
    return q.to(torch.float32) * s


def check(peers, d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    qc = cfg.get("quantization_config") or {}
    method = qc.get("quant_method")
    ck = read_checkpoint(d)
    ref = read_safetensors(d.rstrip("/") + ".gollm.safetensors")
    worst, n, kind = 0.0, 0, None
    for name, want in ref.items():
        prefix = name[: -len(".weight")]
        if method == "gptq":
            if qc.get("checkpoint_format", "gptq") != "gptq":
                # AutoGPTQ reads only v1 (zero − 1); gollm writes gptq_v2
                # when a zero point is 0, which v1 cannot store.
                qcf = json.load(open(os.path.join(d, "quantize_config.json"))).get("checkpoint_format")
                print(f"n/a\t{os.path.basename(d.rstrip('/'))}\tcheckpoint_format {qc.get('checkpoint_format')} (quantize_config.json: {qcf}): AutoGPTQ reads v1 only")
                return True
            got, kind = gptq_weight(peers, ck, prefix, qc), f"AutoGPTQ QuantLinear {qc['bits']}-bit g{qc['group_size']} desc_act={qc['desc_act']} sym={qc['sym']}"
        elif method == "awq":
            got, kind = awq_weight(peers, ck, prefix, qc), f"AutoAWQ dequantize_gemm {qc['bits']}-bit g{qc['group_size']} {qc.get('version')}"
        elif method == "compressed-tensors" and qc.get("format") == "int-quantized":
            got, kind = w8a8_weight(ck, prefix, qc), "compressed-tensors int-quantized W8A8"
        elif (prefix + ".bitmask") in ck:
            sc = cfg.get("sparsity_config") or qc.get("sparsity_config") or {}
            got, kind = sparse24_weight(peers, ck, prefix), f"compressed-tensors {sc.get('format', '?')}"
        else:
            raise SystemExit(f"{d}: {name}: no packed layout this check knows")
        if tuple(got.shape) != tuple(want.shape):
            print(f"MISMATCH {d}: {name}: shape {tuple(got.shape)} vs gollm {tuple(want.shape)}")
            return False
        diff = (got - want).abs().max().item()
        scale = max(want.abs().max().item(), 1e-30)
        worst = max(worst, diff / scale)
        n += 1
    ok = worst <= 1e-6
    print(f"{'ok' if ok else 'MISMATCH'}\t{os.path.basename(d.rstrip('/'))}\t{kind}\t{n} layers\tmax |peer − gollm| / max|w| = {worst:.3g}")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--autogptq", required=True)
    p.add_argument("--autoawq", required=True)
    p.add_argument("--ctensors", required=True)
    p.add_argument("ckpt", nargs="+")
    a = p.parse_args()
    peers = Peers(a)
    ok = all([check(peers, d) for d in a.ckpt])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
