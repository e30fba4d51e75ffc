"""Batch norm forward, saved statistics, running-stat updates and every gradient, in training and
evaluation, with and without affine parameters -> test/fixtures/norm.safetensors.

Run: /usr/bin/python3 test/reference/norm.py
"""
import json

import torch

from common import both, gen, put, randn, save

# name: (shape, training, affine, running stats, momentum, eps, offset of x)
CASES = {
    "train_affine": ((2, 3, 5, 7), True, True, True, 0.1, 1e-5, 0.0),
    "train_plain_no_running": ((3, 4, 1, 1), True, False, False, 0.1, 1e-5, 0.0),
    "train_2d": ((5, 6), True, True, True, 0.3, 1e-5, 0.0),
    "train_3d": ((2, 3, 4), True, True, True, 0.1, 1e-5, 0.0),
    "train_count2": ((1, 3, 1, 2), True, True, True, 0.1, 1e-5, 0.0),
    "train_offset": ((2, 2, 16, 16), True, True, True, 0.01, 1e-3, 100.0),
    "train_large_plane": ((1, 1, 64, 48), True, True, True, 0.1, 1e-5, 3.0),
    "eval_affine": ((2, 4, 3, 3), False, True, True, 0.1, 1e-5, 0.0),
    "eval_plain_2d": ((4, 3), False, False, True, 0.1, 1e-5, 0.0),
}


def run_case(rec, name, x, w, b, rm, rv, training, momentum, eps, g):
    def fn(x, w, b, rm, rv):
        y, mean, invstd = torch.native_batch_norm(x, w, b, rm, rv, training, momentum, eps)
        if not training:  # PyTorch returns no saved statistics in evaluation; ours are the running ones
            mean, invstd = rm.clone(), (rv + eps).rsqrt()
        return y, mean, invstd

    (y64, m64, s64), (y32, m32, s32), in64, in32 = both(fn, x, w, b, rm, rv, requires_grad=(0, 1, 2))
    dy = randn(tuple(y32.shape), g)
    y64.backward(dy.double())
    y32.backward(dy)
    rec[f"{name}.x"], rec[f"{name}.dy"] = x, dy
    put(rec, f"{name}.y", y64, y32)
    put(rec, f"{name}.save_mean", m64, m32)
    put(rec, f"{name}.save_invstd", s64, s32)
    put(rec, f"{name}.dx", in64[0].grad, in32[0].grad)
    if w is not None:
        rec[f"{name}.weight"], rec[f"{name}.bias"] = w, b
        put(rec, f"{name}.dweight", in64[1].grad, in32[1].grad)
        put(rec, f"{name}.dbias", in64[2].grad, in32[2].grad)
    if rm is not None:
        rec[f"{name}.running_mean_in"], rec[f"{name}.running_var_in"] = rm, rv
        put(rec, f"{name}.running_mean", in64[3], in32[3])
        put(rec, f"{name}.running_var", in64[4], in32[4])


def main():
    g = gen(11)
    rec, meta = {}, {}
    for name, (shape, training, affine, running, momentum, eps, offset) in CASES.items():
        C = shape[1]
        x = randn(shape, g, scale=2.0) + offset
        w = randn((C,), g) if affine else None
        b = randn((C,), g) if affine else None
        rm = randn((C,), g, scale=0.5) if running else None
        rv = (torch.rand(C, generator=g) + 0.5).float() if running else None
        run_case(rec, name, x, w, b, rm, rv, training, momentum, eps, g)
        meta[name] = json.dumps({"training": training, "momentum": momentum, "eps": eps,
                                 "affine": affine, "running": running})

    # NaN in one channel spreads over that channel only (its statistics are NaN).
    x = randn((2, 3, 2, 3), g)
    x[1, 1, 0, 2] = float("nan")
    w, b = randn((3,), g), randn((3,), g)
    rm, rv = randn((3,), g), (torch.rand(3, generator=g) + 0.5).float()
    run_case(rec, "train_nan", x, w, b, rm, rv, True, 0.1, 1e-5, g)
    meta["train_nan"] = json.dumps({"training": True, "momentum": 0.1, "eps": 1e-5, "affine": True, "running": True})

    save("norm", rec, meta)


if __name__ == "__main__":
    main()
