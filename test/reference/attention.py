"""Fixtures for the fused attention: out = softmax(scale * q k^T, over S) v, its per-row
log-sum-exp, the attention map, and dq, dk, dv for a random upstream gradient.

Shapes cover S = 1, 110 (ANN's pooled anchors), 225 and S = N (the non-local baselines), odd N,
batch > 1, C != Cv, the forward's multi-block online softmax and the two-pass backward (S > 512),
and rows whose scores hold NaN / +-inf.
Run: /usr/bin/python3 test/reference/attention.py
"""
import math

import torch

from common import both, gen, put, randn, save


def attention(q, k, v, scale):
    s = scale * (q @ k.transpose(1, 2))
    w = torch.softmax(s, dim=-1)
    return w @ v, torch.logsumexp(s, dim=-1), w


def record(name, B, N, S, C, Cv, scale, seed, weights=True, edit=None, default_scale=False):
    g = gen(seed)
    q, k, v = randn((B, N, C), g), randn((B, S, C), g), randn((B, S, Cv), g)
    dout = randn((B, N, Cv), g)
    if edit:
        edit(q, k, v)
    (o64, l64, w64), (o32, l32, w32), x64, x32 = both(
        lambda q, k, v: attention(q, k, v, scale), q, k, v, requires_grad=(0, 1, 2)
    )
    rec = {"q": q, "k": k, "v": v, "dout": dout}
    put(rec, "out", o64, o32)
    put(rec, "lse", l64, l32)
    if weights:
        put(rec, "weights", w64, w32)
    o64.backward(dout.double())
    o32.backward(dout)
    for key, a, b in zip(("dq", "dk", "dv"), x64, x32):
        put(rec, key, a.grad, b.grad)
    meta = {"scale": "default" if default_scale else repr(scale)}
    save("attention_" + name, rec, meta)


def nonfinite(q, k, v):
    # Batch 0: k[0,3,1] = +inf, so rows with q[n,1] < 0 see one -inf score (probability 0) and rows
    # with q[n,1] > 0 see +inf (NaN row). Batch 1: all k[1,:,0] > 0, so q = -inf / +inf in channel 0
    # makes a row of only -inf / only +inf scores, and a NaN in q a NaN row.
    k[:, :, 0] = k[:, :, 0].abs() + 0.1
    k[0, 3, 1] = math.inf
    q[1, 2, 0] = -math.inf
    q[1, 4, 0] = math.inf
    q[1, 5, 3] = math.nan


if __name__ == "__main__":
    record("b1_n1_s1", 1, 1, 1, 5, 3, 5 ** -0.5, 1, default_scale=True)
    record("b2_n7_s110", 2, 7, 110, 12, 9, 12 ** -0.5, 2)
    record("b1_n130_s225", 1, 130, 225, 6, 5, 0.9, 3, weights=False)
    record("b2_n130_s130", 2, 130, 130, 8, 6, 8 ** -0.5, 4, weights=False)
    record("b1_n45_s45", 1, 45, 45, 7, 4, 7 ** -0.5, 9)
    record("b1_n977_s110", 1, 977, 110, 4, 5, 4 ** -0.5, 5, weights=False)
    record("b1_n601_s601", 1, 601, 601, 3, 2, 2.0, 6, weights=False)
    record("b1_n130_s700", 1, 130, 700, 3, 4, -1.5, 7, weights=False)
    record("b2_n9_s20_nonfinite", 2, 9, 20, 6, 5, 6 ** -0.5, 8, edit=nonfinite)
