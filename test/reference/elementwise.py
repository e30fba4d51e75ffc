"""Fixtures for the elementwise family: relu, broadcasting binary ops, reductions, broadcastTo,
permute, cat/split, narrow, matmul and dropout2d (with our generator's mask), forward and
PyTorch-autograd gradients. Run: /usr/bin/python3 test/reference/elementwise.py

The case list is stored in the fixture's metadata ('cases', JSON) so the test walks the same cases.
"""
import json

import torch

from common import both, gen, put, save

g = gen(20240602)
rec = {}
cases = []


def rn(shape, scale=1.0):
    return (torch.randn(tuple(shape), generator=g) * scale).float()


def backward(y64, y32, key):
    """Seeds both outputs with the same float32 upstream gradient, stored as key."""
    dy = rn(y64.shape)
    rec[key] = dy
    y64.backward(dy.double())
    y32.backward(dy)


# --- relu (with NaN, +-Inf and exact zeros) ---
for i, shape in enumerate([[2, 3, 5, 7], [1], [4, 1, 33]]):
    x = rn(shape)
    flat = x.view(-1)
    if flat.numel() >= 4:
        flat[:4] = torch.tensor([float("nan"), float("inf"), float("-inf"), 0.0])
    y64, y32, x64, x32 = both(torch.relu, x, requires_grad=(0,))
    k = f"relu{i}"
    rec[k + ".x"] = x
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    put(rec, k + ".dx", x64[0].grad, x32[0].grad)
    cases.append({"op": "relu", "key": k})

# --- broadcasting binary ops ---
OPS = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
PAIRS = [
    ([2, 3, 4, 5], [2, 3, 4, 5]),
    ([2, 3, 4, 5], [1, 3, 1, 1]),
    ([3, 1, 5], [4, 1]),
    ([1], [2, 3]),
    ([], [2, 3]),
    ([5, 1, 7], [1, 6, 1]),
    ([2, 1, 33], [3, 1]),
    ([2, 3, 1], [2, 3, 9]),
]
for i, (sa, sb) in enumerate(PAIRS):
    for name, fn in OPS.items():
        a, b = rn(sa), rn(sb)
        if name == "div":
            b = b.sign() * (b.abs() + 0.5)  # keep away from 0: the gradient has 1/b^2
        y64, y32, x64, x32 = both(fn, a, b, requires_grad=(0, 1))
        k = f"{name}{i}"
        rec[k + ".a"], rec[k + ".b"] = a, b
        put(rec, k + ".y", y64, y32)
        backward(y64, y32, k + ".dy")
        put(rec, k + ".da", x64[0].grad, x32[0].grad)
        put(rec, k + ".db", x64[1].grad, x32[1].grad)
        cases.append({"op": name, "key": k})

# --- sum / mean over axes ---
REDUCE = [
    ([2, 3, 4, 5], None, False),
    ([2, 3, 4, 5], [1], False),
    ([2, 3, 4, 5], [-1], True),
    ([2, 3, 4, 5], [0, 2], False),
    ([2, 3, 4, 5], [1, 3], True),
    ([2, 3, 4, 5], [0, 1, 2, 3], False),
    ([3, 1, 4], [1], False),
    ([7], None, True),
    ([5, 33], [0], False),
    ([1, 6, 1, 9], [0, 2, 3], True),
]
for i, (shape, axes, keepdim) in enumerate(REDUCE):
    for name in ("sum", "mean"):
        x = rn(shape)

        def fn(t, name=name, axes=axes, keepdim=keepdim):
            f = torch.sum if name == "sum" else torch.mean
            return f(t) if axes is None else f(t, dim=axes, keepdim=keepdim)

        y64, y32, x64, x32 = both(fn, x, requires_grad=(0,))
        if axes is None and keepdim:  # torch has no keepdim for a full reduction without dims
            y64, y32 = y64.reshape([1] * len(shape)), y32.reshape([1] * len(shape))
        k = f"{name}{i}"
        rec[k + ".x"] = x
        put(rec, k + ".y", y64, y32)
        backward(y64, y32, k + ".dy")
        put(rec, k + ".dx", x64[0].grad, x32[0].grad)
        cases.append({"op": name, "key": k, "axes": axes, "keepdim": keepdim})

# --- broadcastTo ---
for i, (src, dst) in enumerate([([3, 1, 5], [2, 3, 4, 5]), ([1], [6]), ([4, 1], [4, 7])]):
    x = rn(src)
    y64, y32, x64, x32 = both(lambda t, dst=dst: t.expand(dst) * 1.0, x, requires_grad=(0,))
    k = f"broadcastTo{i}"
    rec[k + ".x"] = x
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    put(rec, k + ".dx", x64[0].grad, x32[0].grad)
    cases.append({"op": "broadcastTo", "key": k, "shape": dst})

# --- permute ---
PERMS = [
    ([2, 3, 4, 5], [0, 2, 3, 1]),
    ([2, 3, 4, 5], [3, 1, 0, 2]),
    ([2, 3, 5], [0, 2, 1]),
    ([1, 33, 40], [0, 2, 1]),
    ([37, 9], [1, 0]),
    ([7], [0]),
    ([2, 1, 3, 4, 2], [4, 2, 0, 3, 1]),
    ([2, 3, 4, 5], [0, 1, 3, 2]),
    ([2, 3, 4, 5], [-1, 0, 1, 2]),
]
for i, (shape, dims) in enumerate(PERMS):
    x = rn(shape)
    y64, y32, x64, x32 = both(lambda t, dims=dims: t.permute(dims).contiguous(), x, requires_grad=(0,))
    k = f"permute{i}"
    rec[k + ".x"] = x
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    put(rec, k + ".dx", x64[0].grad, x32[0].grad)
    cases.append({"op": "permute", "key": k, "dims": dims})

# --- cat (backward: split) ---
CATS = [
    ([[2, 3, 4], [2, 5, 4]], 1),
    ([[2, 3, 4], [2, 3, 1], [2, 3, 2]], -1),
    ([[1, 3], [4, 3]], 0),
    ([[3, 2, 5, 5], [3, 1, 5, 5]], 1),
]
for i, (shapes, axis) in enumerate(CATS):
    xs = [rn(s) for s in shapes]
    y64, y32, x64, x32 = both(lambda *ts, axis=axis: torch.cat(ts, axis), *xs,
                              requires_grad=tuple(range(len(xs))))
    k = f"cat{i}"
    for j, x in enumerate(xs):
        rec[f"{k}.x{j}"] = x
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    for j in range(len(xs)):
        put(rec, f"{k}.dx{j}", x64[j].grad, x32[j].grad)
    cases.append({"op": "cat", "key": k, "axis": axis, "n": len(xs)})

# --- narrow (backward: narrowBackward) ---
for i, (shape, axis, start, length) in enumerate([([3, 7, 5], 1, 2, 3), ([6, 4], 0, 0, 1), ([2, 3, 9], -1, -4, 4)]):
    x = rn(shape)
    y64, y32, x64, x32 = both(lambda t, a=axis, s=start, n=length: t.narrow(a, s, n) * 1.0, x, requires_grad=(0,))
    k = f"narrow{i}"
    rec[k + ".x"] = x
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    put(rec, k + ".dx", x64[0].grad, x32[0].grad)
    cases.append({"op": "narrow", "key": k, "axis": axis, "start": start, "length": length})

# --- matmul ---
MATMULS = [
    ([5, 7], [7, 3], False, False),
    ([3, 5, 7], [3, 7, 4], False, False),
    ([2, 3, 5, 7], [7, 4], False, False),
    ([3, 7, 5], [3, 7, 4], True, False),
    ([3, 5, 7], [3, 4, 7], False, True),
    ([2, 7, 5], [4, 7], True, True),
    ([5, 7], [3, 7, 4], False, False),
    ([2, 17, 40], [9, 40], False, True),
    ([4, 1, 9], [4, 9, 1], False, False),
]
for i, (sa, sb, ta, tb) in enumerate(MATMULS):
    a, b = rn(sa), rn(sb)

    def fn(x, y, ta=ta, tb=tb):
        return torch.matmul(x.transpose(-1, -2) if ta else x, y.transpose(-1, -2) if tb else y)

    y64, y32, x64, x32 = both(fn, a, b, requires_grad=(0, 1))
    k = f"matmul{i}"
    rec[k + ".a"], rec[k + ".b"] = a, b
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    put(rec, k + ".da", x64[0].grad, x32[0].grad)
    put(rec, k + ".db", x64[1].grad, x32[1].grad)
    cases.append({"op": "matmul", "key": k, "transA": ta, "transB": tb})

# --- dropout2d: PyTorch applies OUR generator's mask (the formula, not the random stream) ---
M64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def our_mask(seed, p, b, c):
    """The same counter-based draw as native/cpu/elementwise.cpp dropout_mask."""
    keep = 0.0 if p >= 1 else float(torch.tensor(1.0 / (1.0 - p), dtype=torch.float32))
    key = mix64((seed + 0x9E3779B97F4A7C15) & M64)
    vals = []
    for i in range(b * c):
        h = mix64(key ^ mix64((i * 0x9E3779B97F4A7C15 + 1) & M64))
        u = (h >> 11) * 2.0**-53
        vals.append(0.0 if u < p else keep)
    return torch.tensor(vals, dtype=torch.float32).reshape(b, c)


for i, (shape, p, seed) in enumerate([([2, 5, 3, 4], 0.3, 1234), ([3, 4, 7], 0.5, 99), ([1, 6, 2, 2], 1.0, 7)]):
    x = rn(shape)
    x.view(-1)[0] = float("nan")
    mask = our_mask(seed, p, shape[0], shape[1])
    view = [shape[0], shape[1]] + [1] * (len(shape) - 2)
    y64, y32, x64, x32 = both(lambda t, m: t * m.reshape(view), x, mask, requires_grad=(0,))
    k = f"dropout2d{i}"
    rec[k + ".x"] = x
    rec[k + ".mask"] = mask
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    put(rec, k + ".dx", x64[0].grad, x32[0].grad)
    cases.append({"op": "dropout2d", "key": k, "p": p, "seed": seed})

save("elementwise", rec, metadata={"cases": json.dumps(cases)})
