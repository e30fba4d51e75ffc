"""Shared helpers for the fixture scripts: seeded inputs, float64 truth, and a safetensors writer.

Every fixture stores, for each checked output `y`:
  y.f64  PyTorch's float64 result (the truth),
  y.f32  PyTorch's float32 result (its own error against the truth sets our tolerance).
Inputs are float32 values (stored as F32), promoted to float64 for the truth.
Run with Debian's PyTorch and OPENBLAS_CORETYPE unset (PyTorch's float32 results depend on the
OpenBLAS kernel; the committed fixtures were made with the CPU's own):
  env -u OPENBLAS_CORETYPE /usr/bin/python3 test/reference/<name>.py
A seed sweep (robustness of the tolerance rule over other random data) sets
  ANN_SEG_FIXTURE_SEED=k   shifts every seed (gen and manual_seed below) to a k-th other stream (0: as committed)
  ANN_SEG_FIXTURES_DIR=dir writes the files there instead (the tests read the same variable)
"""
import copy
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

FIXTURES = os.environ.get("ANN_SEG_FIXTURES_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
SWEEP = int(os.environ.get("ANN_SEG_FIXTURE_SEED", "0"))
if os.environ.get("OPENBLAS_CORETYPE"):
    raise SystemExit("fixture scripts run with OPENBLAS_CORETYPE unset (env -u OPENBLAS_CORETYPE ...): "
                     "PyTorch's float32 results, which set the tolerance, depend on the OpenBLAS kernel")

_DTYPES = {
    torch.float32: ("F32", np.float32),
    torch.float64: ("F64", np.float64),
    torch.int32: ("I32", np.int32),
    torch.int64: ("I64", np.int64),
    torch.uint8: ("U8", np.uint8),
}


def save(name, tensors, metadata=None):
    """Writes {key: tensor} to test/fixtures/<name>.safetensors (no safetensors package needed)."""
    os.makedirs(FIXTURES, exist_ok=True)
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        code, np_type = _DTYPES[t.dtype]
        raw = t.numpy().astype(np_type, copy=False).tobytes()
        header[key] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    path = os.path.join(FIXTURES, name + ".safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for b in blobs:
            f.write(b)
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")


_NP_DTYPES = {code: np_type for code, np_type in _DTYPES.values()}


def load(path):
    """Reads a safetensors file (as save() or our io.writeSafetensors write it): ({key: tensor}, metadata)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for key, h in header.items():
        start, end = h["data_offsets"]
        arr = np.frombuffer(body[start:end], dtype=_NP_DTYPES[h["dtype"]]).reshape(h["shape"])
        out[key] = torch.from_numpy(arr.copy())
    return out, meta


def seeded(seed):
    """The seed a script names, on the sweep's stream (itself when ANN_SEG_FIXTURE_SEED is 0 or unset)."""
    return seed + 1_000_003 * SWEEP


def gen(seed):
    return torch.Generator().manual_seed(seeded(seed))


def manual_seed(seed):
    """torch.manual_seed for the modules' default initialisation, on the sweep's stream."""
    torch.manual_seed(seeded(seed))


def randn(shape, g, scale=1.0):
    """float32 values; the truth is computed from their exact float64 promotion."""
    return (torch.randn(*shape, generator=g) * scale).float()


def both(fn, *inputs, requires_grad=()):
    """Runs fn in float64 and float32 on the same float32 inputs.

    Returns (out64, out32, inputs64, inputs32) with grads enabled on the indices in requires_grad.
    """
    def prep(dtype):
        xs = []
        for i, x in enumerate(inputs):
            if isinstance(x, torch.Tensor) and x.is_floating_point():
                x = x.detach().to(dtype).clone()
                if i in requires_grad:
                    x.requires_grad_(True)
            xs.append(x)
        return xs

    x64, x32 = prep(torch.float64), prep(torch.float32)
    return fn(*x64), fn(*x32), x64, x32


def put(record, key, t64, t32):
    """Stores a checked value: key.f64 (truth) and key.f32 (PyTorch float32)."""
    record[key + ".f64"] = t64.detach().double()
    record[key + ".f32"] = t32.detach().float()


def official_ohem(logits, target, weight=None, thresh=0.7, min_kept=100000, ignore=255):
    """openseg.pytorch FSOhemCELoss.forward (the loss the official ANN code trains with; its defaults).

    Returns (loss, kept count, threshold, the sorted probabilities of the valid pixels)."""
    prob_out = F.softmax(logits, dim=1)
    tmp_target = target.clone()
    tmp_target[tmp_target == ignore] = 0
    prob = prob_out.gather(1, tmp_target.unsqueeze(1))
    mask = target.contiguous().view(-1) != ignore
    sort_prob, sort_indices = prob.contiguous().view(-1)[mask].contiguous().sort()
    min_threshold = sort_prob[min(min_kept, sort_prob.numel() - 1)]
    threshold = max(min_threshold, thresh)
    loss_matrix = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore, reduction="none")
    sort_loss = loss_matrix.contiguous().view(-1)[mask][sort_indices]
    selected = sort_loss[sort_prob < threshold]
    return selected.mean(), selected.numel(), float(threshold), sort_prob.detach()


# Dropout masks come from OUR generator (PyTorch's formula, not its random stream).
M64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def our_mask(seed, p, b, c):
    """The same counter-based draw as native/cpu/elementwise.cpp dropout_mask: a [b, c] float32 mask."""
    keep = 0.0 if p >= 1 else float(torch.tensor(1.0 / (1.0 - p), dtype=torch.float32))
    key = mix64((seed + 0x9E3779B97F4A7C15) & M64)
    vals = []
    for i in range(b * c):
        h = mix64(key ^ mix64((i * 0x9E3779B97F4A7C15 + 1) & M64))
        u = (h >> 11) * 2.0**-53
        vals.append(0.0 if u < p else keep)
    return torch.tensor(vals, dtype=torch.float32).reshape(b, c)


def put_buffers(record, prefix, state64, state32, counts=True):
    """BN buffers after a training forward: running statistics as checked values (prefix + name
    .f64/.f32) and, with counts, num_batches_tracked as int32."""
    for name in state32:
        if name.endswith("running_mean") or name.endswith("running_var"):
            put(record, prefix + name, state64[name], state32[name])
        elif counts and name.endswith("num_batches_tracked"):
            record[prefix + name] = state32[name].to(torch.int32)


def grad_scales(net, loss_of):
    """The rounding scale of every parameter gradient of `net`: the same sum over positions taken over
    the magnitudes of its terms (conv weight: sum |x| |dy| per weight; bias: sum |dy|; batch norm weight:
    sum |dy * xhat|), in float64 on a copy of `net` in train mode, for loss_of(copy) -> scalar.

    A weight gradient's element is a sum over every position of a layer; where its terms cancel, its
    value sits decades below the rounding every float32 path makes in it (set by the terms, not the
    sum), so "a 1e-3 relative error" there is judged against this scale (test/helpers/parity.ts,
    mutationEscapes). Stored as `<key>.scale` (float32). Raises if a parameter has no rule here."""
    m = copy.deepcopy(net).double().train()
    calls = {}  # module -> [[input, grad of output], ...], one per call

    def forward_hook(mod, inputs, out):
        slot = [inputs[0].detach(), None]
        calls.setdefault(mod, []).append(slot)
        out.register_hook(lambda g, slot=slot: slot.__setitem__(1, g.detach()))

    hooks = [mod.register_forward_hook(forward_hook) for mod in m.modules()
             if isinstance(mod, (torch.nn.Conv2d, torch.nn.BatchNorm2d))]
    try:
        loss_of(m).backward()
    finally:
        for h in hooks:
            h.remove()
    scales = {}
    for name, mod in m.named_modules():
        for x, dy in calls.get(mod, []):
            if dy is None:
                continue
            parts = {"bias": dy.abs().sum((0, 2, 3))}
            if isinstance(mod, torch.nn.Conv2d):
                parts["weight"] = torch.nn.grad.conv2d_weight(x.abs(), mod.weight.shape, dy.abs(), mod.stride,
                                                              mod.padding, mod.dilation, mod.groups)
            else:
                mean = x.mean((0, 2, 3), keepdim=True)
                var = x.var((0, 2, 3), unbiased=False, keepdim=True)
                parts["weight"] = (dy * (x - mean) / torch.sqrt(var + mod.eps)).abs().sum((0, 2, 3))
            for pname, s in parts.items():
                if getattr(mod, pname, None) is not None:
                    key = f"grad.{name}.{pname}" if name else f"grad.{pname}"
                    scales[key] = scales.get(key, 0) + s
    missing = [f"grad.{k}" for k, p in m.named_parameters() if p.requires_grad and f"grad.{k}" not in scales]
    if missing:
        raise SystemExit(f"grad_scales: no scale rule for {', '.join(missing)}")
    return {k: v.float() for k, v in scales.items()}
