"""Fixtures for the elementwise family: relu, broadcasting binary ops, reductions, broadcastTo,
permute, cat/split, narrow, matmul and dropout2d (with our generator's mask), forward and
PyTorch-autograd gradients. Run: /usr/bin/python3 test/reference/elementwise.py

The case list is stored in the fixture's metadata ('cases', JSON) so the test walks the same cases.
"""
import json

import torch

from common import both, gen, our_mask, put, save

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


def record(op, k, inputs, result, grads, **opts):
    """Stores the inputs ({name: tensor}), output y, upstream dy and the input gradients named in
    grads (d<name>, in both()'s input order), and appends the case {op, key, **opts}."""
    y64, y32, x64, x32 = result
    for name, t in inputs.items():
        rec[f"{k}.{name}"] = t
    put(rec, k + ".y", y64, y32)
    backward(y64, y32, k + ".dy")
    for j, name in enumerate(grads):
        put(rec, f"{k}.d{name}", x64[j].grad, x32[j].grad)
    cases.append({"op": op, "key": k, **opts})


# --- relu (with NaN, +-Inf and exact zeros) ---
for i, shape in enumerate([[2, 3, 5, 7], [1], [4, 1, 33]]):
    x = rn(shape)
    flat = x.view(-1)
    if flat.numel() >= 4:
        flat[:4] = torch.tensor([float("nan"), float("inf"), float("-inf"), 0.0])
    record("relu", f"relu{i}", {"x": x}, both(torch.relu, x, requires_grad=(0,)), ["x"])

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
        record(name, f"{name}{i}", {"a": a, "b": b}, both(fn, a, b, requires_grad=(0, 1)), ["a", "b"])

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
        record(name, f"{name}{i}", {"x": x}, (y64, y32, x64, x32), ["x"], axes=axes, keepdim=keepdim)

# --- broadcastTo ---
for i, (src, dst) in enumerate([([3, 1, 5], [2, 3, 4, 5]), ([1], [6]), ([4, 1], [4, 7])]):
    x = rn(src)
    out = both(lambda t, dst=dst: t.expand(dst) * 1.0, x, requires_grad=(0,))
    record("broadcastTo", f"broadcastTo{i}", {"x": x}, out, ["x"], shape=dst)

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
    out = both(lambda t, dims=dims: t.permute(dims).contiguous(), x, requires_grad=(0,))
    record("permute", f"permute{i}", {"x": x}, out, ["x"], dims=dims)

# --- cat (backward: split) ---
CATS = [
    ([[2, 3, 4], [2, 5, 4]], 1),
    ([[2, 3, 4], [2, 3, 1], [2, 3, 2]], -1),
    ([[1, 3], [4, 3]], 0),
    ([[3, 2, 5, 5], [3, 1, 5, 5]], 1),
]
for i, (shapes, axis) in enumerate(CATS):
    xs = [rn(s) for s in shapes]
    out = both(lambda *ts, axis=axis: torch.cat(ts, axis), *xs, requires_grad=tuple(range(len(xs))))
    names = [f"x{j}" for j in range(len(xs))]
    record("cat", f"cat{i}", dict(zip(names, xs)), out, names, axis=axis, n=len(xs))

# --- narrow (backward: narrowBackward) ---
for i, (shape, axis, start, length) in enumerate([([3, 7, 5], 1, 2, 3), ([6, 4], 0, 0, 1), ([2, 3, 9], -1, -4, 4)]):
    x = rn(shape)
    out = both(lambda t, a=axis, s=start, n=length: t.narrow(a, s, n) * 1.0, x, requires_grad=(0,))
    record("narrow", f"narrow{i}", {"x": x}, out, ["x"], axis=axis, start=start, length=length)

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

    out = both(fn, a, b, requires_grad=(0, 1))
    record("matmul", f"matmul{i}", {"a": a, "b": b}, out, ["a", "b"], transA=ta, transB=tb)

# --- dropout2d: PyTorch applies OUR generator's mask (common.our_mask), not its random stream ---
for i, (shape, p, seed) in enumerate([([2, 5, 3, 4], 0.3, 1234), ([3, 4, 7], 0.5, 99), ([1, 6, 2, 2], 1.0, 7)]):
    x = rn(shape)
    x.view(-1)[0] = float("nan")
    mask = our_mask(seed, p, shape[0], shape[1])
    view = [shape[0], shape[1]] + [1] * (len(shape) - 2)
    out = both(lambda t, m: t * m.reshape(view), x, mask, requires_grad=(0,))
    record("dropout2d", f"dropout2d{i}", {"x": x, "mask": mask}, out, ["x"], p=p, seed=seed)

save("elementwise", rec, metadata={"cases": json.dumps(cases)})
