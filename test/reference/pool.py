"""Fixtures for the pool family: max_pool2d, fused pyramid pooling and position gathering.

Writes test/fixtures/pool_max2d, pool_pyramid and pool_gather .safetensors; each case's options
are in the metadata entry "cases" (JSON). Run: /usr/bin/python3 test/reference/pool.py
"""
import json

import torch
import torch.nn.functional as F

from common import both, gen, put, randn, save


def tied(shape, g):
    """Small integers (many ties) with NaN and +-inf sprinkled in, for the scan-order rules."""
    x = torch.randint(0, 2, shape, generator=g).float()
    flat = x.view(-1)
    n = flat.numel()
    for k in torch.randperm(n, generator=g)[: max(2, n // 12)]:
        flat[k] = float("nan")
    for k in torch.randperm(n, generator=g)[: max(2, n // 12)]:
        flat[k] = float("-inf")
    for k in torch.randperm(n, generator=g)[: max(1, n // 40)]:
        flat[k] = float("inf")
    x[0, 0, :2, :2] = float("-inf")  # a window of nothing but -inf keeps its first index
    return x


def record(rec, key, x, y64, y32, x64, x32, g):
    """Backpropagates a fresh upstream gradient dy through both precisions; stores x, dy, y and dx."""
    dy = randn(list(y64.shape), g)
    y64.backward(dy.double())
    y32.backward(dy)
    rec[f"{key}.x"] = x
    rec[f"{key}.dy"] = dy
    put(rec, f"{key}.y", y64, y32)
    put(rec, f"{key}.dx", x64.grad, x32.grad)


def max2d_fixture():
    g = gen(1)
    cases = [
        # name, shape, kernelSize, stride, padding, dilation, ceilMode
        ("stem_ceil_odd", [2, 2, 9, 9], 3, 2, 1, 1, True),
        ("stem_ceil_even", [2, 2, 8, 10], 3, 2, 1, 1, True),
        ("stem_floor_odd", [2, 2, 9, 9], 3, 2, 1, 1, False),
        ("stem_floor_even", [2, 2, 8, 10], 3, 2, 1, 1, False),
        ("last_window_rule", [1, 2, 5, 5], 3, 3, 1, 1, True),
        ("k2_ceil_odd", [2, 1, 7, 5], 2, 2, 0, 1, True),
        ("dilated_rect", [1, 2, 11, 9], [3, 2], [2, 1], [1, 1], [2, 3], False),
        ("dilated_rect_ceil", [1, 2, 12, 9], [3, 2], [2, 3], [1, 1], [2, 1], True),
        ("row", [2, 2, 1, 5], [1, 3], 2, 0, 1, True),
        ("one_pixel", [2, 3, 1, 1], 1, 1, 0, 1, False),
        ("ties_nan", [1, 2, 6, 7], 3, 2, 1, 1, True),
        ("ties_nan_wide", [1, 2, 7, 41], 3, 2, 1, 1, True),
        ("ties_nan_dilated", [1, 1, 6, 30], 3, 1, 1, 2, False),
    ]
    rec, meta = {}, []
    for name, shape, k, s, p, d, ceil in cases:
        x = tied(shape, g) if name.startswith("ties_nan") else randn(shape, g)

        def fn(t):
            return F.max_pool2d(t, k, s, p, d, ceil_mode=ceil, return_indices=True)

        (y64, i64), (y32, i32), (x64,), (x32,) = both(fn, x, requires_grad=(0,))
        assert torch.equal(i64, i32)
        record(rec, name, x, y64, y32, x64, x32, g)
        rec[f"{name}.indices"] = i64.int()
        meta.append(dict(name=name, kernelSize=k, stride=s, padding=p, dilation=d, ceilMode=ceil))
        print(name, list(shape), "->", list(y64.shape))
    # The output-size rule over many small sizes: [H, k, s, p, d, ceil, out] (out -1: PyTorch rejects it).
    sizes = []
    for h in range(1, 18):
        for k in (1, 2, 3, 4):
            for st in (1, 2, 3):
                for p in range(0, k // 2 + 1):
                    for d in (1, 2):
                        for ceil in (False, True):
                            try:
                                out = F.max_pool2d(torch.zeros(1, 1, h, 1), (k, 1), (st, 1), (p, 0), (d, 1), ceil).shape[2]
                            except RuntimeError:
                                out = -1
                            sizes.append([h, k, st, p, d, int(ceil), out])
    save("pool_max2d", rec, {"cases": json.dumps(meta), "sizes": json.dumps(sizes)})


def pyramid(t, sizes, mode):
    if mode == "avg":
        return torch.cat([F.adaptive_avg_pool2d(t, n).flatten(2) for n in sizes], 2), None
    outs = [F.adaptive_max_pool2d(t, n, return_indices=True) for n in sizes]
    return torch.cat([o.flatten(2) for o, _ in outs], 2), torch.cat([i.flatten(2) for _, i in outs], 2)


def pyramid_fixture():
    g = gen(2)
    cases = [
        ("awkward", [2, 3, 13, 11], [1, 3, 6, 8]),
        ("h1", [2, 2, 1, 7], [1, 3, 6, 8]),
        ("h5", [2, 2, 5, 9], [1, 3, 6, 8]),
        ("h97", [1, 2, 97, 5], [1, 3, 6, 8]),
        ("w97", [1, 2, 3, 97], [1, 3, 6, 8]),
        ("pixel", [2, 2, 1, 1], [1, 3, 6, 8]),
        ("psp", [2, 2, 8, 8], [1, 2, 3, 6]),
        ("wide", [2, 2, 13, 8], [1, 4, 8, 12]),
        ("plain15", [1, 2, 17, 20], [15]),
        ("ties_nan", [1, 2, 7, 19], [1, 3, 6, 8]),
    ]
    rec, meta = {}, []
    for name, shape, sizes in cases:
        for mode in ("avg", "max"):
            key = f"{name}_{mode}"
            x = tied(shape, g) if name.startswith("ties_nan") else randn(shape, g)
            (y64, i64), (y32, i32), (x64,), (x32,) = both(lambda t: pyramid(t, sizes, mode), x, requires_grad=(0,))
            record(rec, key, x, y64, y32, x64, x32, g)
            if mode == "max":
                assert torch.equal(i64, i32)
                rec[f"{key}.indices"] = i64.int()
            meta.append(dict(name=key, sizes=sizes, mode=mode))
    save("pool_pyramid", rec, {"cases": json.dumps(meta)})


def gather_fixture():
    g = gen(3)
    rec, meta = {}, []
    for name, shape, s in [("repeats", [2, 3, 5, 7], 40), ("pixel", [2, 2, 1, 1], 3), ("tall", [2, 2, 97, 1], 110)]:
        b, c, h, w = shape
        x = randn(shape, g)
        pos = torch.randint(0, h * w, (b, s), generator=g)
        pos[:, -1] = pos[:, 0]  # at least one repeat per row
        idx = pos[:, None, :].expand(b, c, s)
        y64, y32, (x64,), (x32,) = both(lambda t: t.flatten(2).gather(2, idx), x, requires_grad=(0,))
        record(rec, name, x, y64, y32, x64, x32, g)
        rec[f"{name}.positions"] = pos.int()
        meta.append(dict(name=name))
    save("pool_gather", rec, {"cases": json.dumps(meta)})


if __name__ == "__main__":
    torch.set_num_threads(1)
    max2d_fixture()
    pyramid_fixture()
    gather_fixture()
