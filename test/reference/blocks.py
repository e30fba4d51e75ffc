"""Parity fixtures for nn.APNB, nn.AFNB, nn.NonLocal, nn.FusionNonLocal and nn.CommonFusion against the
PyTorch reference modules of ann_ref_blocks.py (official names), one file per case:
  test/fixtures/blocks_<case>.safetensors
Each holds `state.<key>` (the module's state_dict: random non-zero weights, W included, random BN
statistics) and, for each input set `<s>` ('a' [2,C,13,17]; 'b' [1,C,5,9], H < 8; 'c' for the
fusion blocks: low [1,C,7,11] with high [1,C,5,9]):
  <s>.x | <s>.low, <s>.high      inputs (float32)
  <s>.positions                  random sampling only: int32 [B,S], fed to both sides
  <s>.eval.y, <s>.eval.<trace>   evaluation output; for 'b' and 'c' query/key/value/context/out
                                 (and for 'b' of the main cases the attention weights)
  <s>.train.dy, <s>.train.y      training mode (dropout p = 0) output for an upstream gradient dy,
  <s>.train.grad.<name>          gradients of the inputs and of every parameter,
  <s>.train.grad.<name>.f32alt   the same on PyTorch's other float32 CPU path (channels_last memory
                                 format; with mkldnn off these small convolutions take the same path
                                 as before, bit for bit): BN and bias gradients are few-element sums
                                 over every position, so one path's error is a single noisy sample
                                 of PyTorch's float32 error; the yardstick is the larger of the two
                                 paths' errors (test/helpers/parity.ts)
  <s>.train.after.<buffer>       and the BN running statistics after that forward.
Run: /usr/bin/python3 test/reference/blocks.py
"""
import copy
import json

import torch
import torch.nn as nn

from ann_ref_blocks import AFNB, APNB, CommonFusion, FusionNonLocal, NonLocal, random_positions
from common import gen, manual_seed, put, put_buffers, randn, save

# Small widths keep the files small; every width differs so that a mixed-up channel count fails.
C, KEY, VALUE = 10, 4, 6  # APNB/NB in = out; AFNB/FNB high = out
LOW = 8
SHAPES = {"a": (2, 13, 17), "b": (1, 5, 9)}
FUSION_SHAPES = {"a": ((2, 13, 17), (2, 13, 17)), "b": ((1, 5, 9), (1, 5, 9)), "c": ((1, 7, 11), (1, 5, 9))}


def randomise(module, g):
    """Non-zero weights everywhere (W included) and BN statistics that are not the defaults."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith(".W.weight") or name.endswith(".W.bias"):
                p.copy_(randn(p.shape, g, 0.3))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(randn((c,), g, 0.2))
                m.running_mean.copy_(randn((c,), g, 0.3))
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.num_batches_tracked.fill_(3)


def run(rec, prefix, module, inputs, names, g, positions=None, trace=True, weights=True):
    """Evaluation output (and trace), then a training forward/backward, in float64 and float32."""
    for n, x in zip(names, inputs):
        rec[f"{prefix}.{n}"] = x
    kw = {} if positions is None else {"positions": positions}
    if positions is not None:
        rec[f"{prefix}.positions"] = positions
    traced = trace and not isinstance(module, CommonFusion)

    e64, e32 = copy.deepcopy(module).double().eval(), copy.deepcopy(module).eval()
    tr64, tr32 = {}, {}
    with torch.no_grad():
        extra64 = {"trace": tr64} if traced else {}
        extra32 = {"trace": tr32} if traced else {}
        put(rec, f"{prefix}.eval.y", e64(*[x.double() for x in inputs], **kw, **extra64), e32(*inputs, **kw, **extra32))
    for key in tr32:
        if key != "weights" or weights:
            put(rec, f"{prefix}.eval.{key}", tr64[key], tr32[key])

    t64, t32 = copy.deepcopy(module).double().train(), copy.deepcopy(module).train()
    x64 = [x.double().requires_grad_(True) for x in inputs]
    x32 = [x.clone().requires_grad_(True) for x in inputs]
    y64, y32 = t64(*x64, **kw), t32(*x32, **kw)
    dy = randn(tuple(y32.shape), g)
    (y64 * dy.double()).sum().backward()
    (y32 * dy).sum().backward()
    rec[f"{prefix}.train.dy"] = dy
    alt = copy.deepcopy(module).train().to(memory_format=torch.channels_last)
    xalt = [x.clone().contiguous(memory_format=torch.channels_last).requires_grad_(True) for x in inputs]
    (alt(*xalt, **kw) * dy).sum().backward()
    for n, x in zip(names, xalt):
        rec[f"{prefix}.train.grad.{n}.f32alt"] = x.grad.detach().float()
    for name, p in alt.named_parameters():
        rec[f"{prefix}.train.grad.{name}.f32alt"] = p.grad.detach().float()
    put(rec, f"{prefix}.train.y", y64, y32)
    for n, a, b in zip(names, x64, x32):
        put(rec, f"{prefix}.train.grad.{n}", a.grad, b.grad)
    for (name, p64), (_, p32) in zip(t64.named_parameters(), t32.named_parameters()):
        put(rec, f"{prefix}.train.grad.{name}", p64.grad, p32.grad)
    put_buffers(rec, f"{prefix}.train.after.", t64.state_dict(), t32.state_dict())


def case(name, module, seed, sampling=None, sizes=None, fusion=False, options=None, full=False):
    """Input 'b' always (with the trace); full: also 'a' (without the trace) and 'c', and the attention
    weights for 'b'. That keeps every file small."""
    g = gen(seed)
    randomise(module, g)
    rec = {f"state.{k}": (v.to(torch.int32) if k.endswith("num_batches_tracked") else v) for k, v in module.state_dict().items()}
    sets = FUSION_SHAPES if fusion else SHAPES
    for s, shape in sets.items():
        if not full and s != "b":
            continue
        if fusion:
            (b, hl, wl), (_, hh, wh) = shape
            inputs, names = [randn((b, LOW, hl, wl), g), randn((b, C, hh, wh), g)], ["low", "high"]
            if isinstance(module, CommonFusion) and (hl, wl) != (hh, wh):
                continue
        else:
            b, hl, wl = shape
            inputs, names = [randn((b, C, hl, wl), g)], ["x"]
        positions = None
        if sampling is not None and sampling.endswith("random"):
            positions = random_positions(sampling, sizes, hl, wl, b, g)
        run(rec, s, module, inputs, names, g, positions, trace=s != "a", weights=full and s == "b")
    meta = {
        "options": json.dumps(options or {}),
        "state_dict_keys": json.dumps(list(module.state_dict())),
        "parameter_names": json.dumps([n for n, _ in module.named_parameters()]),
    }
    save(f"blocks_{name}", rec, meta)


SAMPLING_CASES = [
    ("pyramid-avg", (1, 3, 6, 8), ""),
    ("pyramid-max", (1, 3, 6, 8), ""),
    ("plain-avg", (3,), ""),
    ("plain-max", (3,), ""),
    ("pyramid-avg", (1, 2, 3, 6), "_1236"),
    ("pyramid-avg", (1, 4, 8, 12), "_14812"),
    ("pyramid-random", (1, 3, 6, 8), ""),
    ("plain-random", (3,), ""),
]


def main():
    manual_seed(11)
    for i, (sampling, sizes, suffix) in enumerate(SAMPLING_CASES):
        tag = sampling + suffix
        opts = {"sampling": sampling, "sizes": list(sizes), "keyChannels": KEY, "valueChannels": VALUE, "dropout": 0}
        apnb = APNB(C, C, KEY, VALUE, dropout=0.0, sizes=sizes, sampling=sampling)
        full = i == 0
        case(f"apnb_{tag}", apnb, 100 + i, sampling, sizes, options={**opts, "inChannels": C, "outChannels": C}, full=full)
        afnb = AFNB(LOW, C, C, KEY, VALUE, dropout=0.0, sizes=sizes, sampling=sampling)
        fopts = {**opts, "lowChannels": LOW, "highChannels": C, "outChannels": C}
        case(f"afnb_{tag}", afnb, 200 + i, sampling, sizes, fusion=True, options=fopts, full=full)
    nb = NonLocal(C, C, KEY, VALUE, dropout=0.0)
    case("nb", nb, 300, options={"inChannels": C, "outChannels": C, "keyChannels": KEY, "valueChannels": VALUE, "dropout": 0}, full=True)
    fnb = FusionNonLocal(LOW, C, C, KEY, VALUE, dropout=0.0)
    fopts = {"lowChannels": LOW, "highChannels": C, "outChannels": C, "keyChannels": KEY, "valueChannels": VALUE, "dropout": 0}
    case("fnb", fnb, 301, fusion=True, options=fopts, full=True)
    case("common", CommonFusion(LOW, C), 302, fusion=True, options={"lowChannels": LOW, "highChannels": C}, full=True)


if __name__ == "__main__":
    main()
