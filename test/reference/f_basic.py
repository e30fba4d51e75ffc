"""Fixtures for the basic F ops (arith, shape, linalg, loss) through PyTorch autograd: forward and the
gradient of every float input, on awkward shapes (0-d, broadcasting both ways, size-1 dims, negative
dims) and composite expressions. Run: /usr/bin/python3 test/reference/f_basic.py

Each case stores <case>.in<i> (inputs; int targets as I32), <case>.y, <case>.dy (the upstream gradient,
when y is not a scalar) and <case>.g<i> for each input that requires grad. The case list (name, number
of inputs, which need grad) is in the metadata ('cases', JSON); test/f-basic.test.ts holds the same
expressions under the same names.
"""
import json

import torch
import torch.nn.functional as F

from common import both, gen, official_ohem, put, randn, save

g = gen(20240603)
rec = {}
cases = []


def rn(*shape, scale=1.0):
    return (torch.randn(shape, generator=g) * scale).float()


def away_from_zero(x):
    """A divisor: the gradient has 1/b^2, so keep |b| >= 0.5."""
    return (x.sign() * (x.abs() + 0.5)).float()


def case(name, fn, *inputs, grads=None):
    """Runs fn in float64 and float32 on the inputs; grads are the input indices that require grad
    (default: every float input)."""
    if grads is None:
        grads = [i for i, x in enumerate(inputs) if x.is_floating_point()]
    y64, y32, x64, x32 = both(fn, *inputs, requires_grad=tuple(grads))
    for i, x in enumerate(inputs):
        rec[f"{name}.in{i}"] = x if x.is_floating_point() else x.int()
    put(rec, f"{name}.y", y64, y32)
    if grads:
        if y64.dim() == 0:
            y64.backward()
            y32.backward()
        else:
            dy = rn(*y64.shape)
            rec[f"{name}.dy"] = dy
            y64.backward(dy.double())
            y32.backward(dy)
        for i in grads:
            put(rec, f"{name}.g{i}", x64[i].grad, x32[i].grad)
    cases.append({"name": name, "inputs": len(inputs), "grads": grads})


# --- arith: broadcasting both ways, 0-d, the same tensor twice ---
case("add_same", torch.add, rn(2, 3), rn(2, 3))
case("add_both_ways", torch.add, rn(3, 1, 5), rn(4, 1))
case("add_0d", torch.add, rn(), rn(2, 3))
case("sub_rows", torch.sub, rn(2, 3, 4), rn(3, 1))
case("sub_one", torch.sub, rn(1), rn(2, 3))
case("mul_both_ways", torch.mul, rn(5, 1, 7), rn(1, 6, 1))
case("mul_self", lambda a: a * a, rn(3, 2))
case("div_last", torch.div, rn(2, 3, 4), away_from_zero(rn(4)))
case("div_both_ways", torch.div, rn(3, 1), away_from_zero(rn(1, 4)))
case("div_0d", torch.div, rn(), away_from_zero(rn(3)))
case("neg", torch.neg, rn(2, 3))
case("scale", lambda x: x * 2.5, rn(4))
case("add_scalar", lambda x: x + 1.5, rn(2, 2))
case("relu", torch.relu, rn(3, 4))
case("sum_all", torch.sum, rn(2, 3, 4))
case("sum_dims_keepdim", lambda x: x.sum(dim=(0, -1), keepdim=True), rn(2, 3, 4))
case("sum_negdim", lambda x: x.sum(dim=-2), rn(2, 3, 4))
case("sum_0d_dim0", lambda x: x.sum(dim=0), rn())
case("mean_all", torch.mean, rn(3, 5))
case("mean_dim_keepdim", lambda x: x.mean(dim=1, keepdim=True), rn(2, 3, 4))
case("mean_size1", lambda x: x.mean(dim=(1, 2)), rn(4, 1, 3))
case("softmax_dim1", lambda x: F.softmax(x, dim=1), rn(2, 5, 3, scale=3.0))
case("softmax_neg", lambda x: F.softmax(x, dim=-1), rn(3, 7, scale=3.0))
case("softmax_size1", lambda x: F.softmax(x, dim=1), rn(4, 1, 3))
case("softmax_0d", lambda x: F.softmax(x, dim=0), rn())
case("log_softmax_dim0", lambda x: F.log_softmax(x, dim=0), rn(4, 3, 2, scale=3.0))
case("log_softmax_neg", lambda x: F.log_softmax(x, dim=-1), rn(2, 6, scale=3.0))

# --- shape ---
case("flatten_mid", lambda x: torch.flatten(x, 1, 2), rn(2, 3, 4, 5))
case("flatten_all", torch.flatten, rn(2, 3, 4))
case("flatten_neg", lambda x: torch.flatten(x, -2, -1), rn(2, 3, 4))
case("flatten_0d", torch.flatten, rn())
case("unsqueeze_neg", lambda x: x.unsqueeze(-1), rn(2, 3))
case("unsqueeze_0", lambda x: x.unsqueeze(0), rn(2, 3))
case("squeeze_all", torch.squeeze, rn(1, 3, 1, 2))
case("squeeze_dim", lambda x: x.squeeze(2), rn(1, 3, 1, 2))
case("squeeze_noop", lambda x: x.squeeze(1), rn(1, 3, 1, 2))
case("cat_last", lambda a, b, c: torch.cat([a, b, c], dim=-1), rn(2, 3), rn(2, 1), rn(2, 4))
case("cat_first", lambda a, b: torch.cat([a, b], 0), rn(1, 3, 2), rn(3, 3, 2))
case("cat_no_grad_middle", lambda a, b, c: torch.cat([a, b, c], dim=1), rn(2, 2), rn(2, 3), rn(2, 1), grads=[0, 2])
# The middle piece is unused: its share of the gradient is zero.
case("split_cat_round_trip", lambda x: (lambda p: torch.cat([p[2], p[0]], dim=1))(torch.split(x, [2, 4, 1], dim=1)), rn(2, 7, 3))
case("split_size", lambda x: (lambda p: torch.cat([p[0] * p[1], p[2]], 0))(torch.split(x, 2)), rn(5, 3))
case("split_neg_dim_sum", lambda x: sum((i + 1) * p.sum() for i, p in enumerate(torch.split(x, 3, dim=-1))), rn(2, 8))
case("narrow", lambda x: x.narrow(1, 1, 3), rn(3, 5))
case("narrow_neg_start", lambda x: x.narrow(0, -2, 2), rn(4, 3))
case("permute_transpose", lambda x: x.permute(2, 0, 1).transpose(0, -1).reshape(4, -1), rn(2, 3, 4))

# --- linalg: torch.matmul's cases ---
case("mm", torch.matmul, rn(3, 4), rn(4, 5))
case("mv", torch.matmul, rn(3, 4), rn(4))
case("vm", torch.matmul, rn(4), rn(4, 5))
case("dot", torch.matmul, rn(4), rn(4))
case("bmm", torch.bmm, rn(2, 3, 4), rn(2, 4, 5))
case("batched_shared_b", torch.matmul, rn(2, 3, 4), rn(4, 5))
case("batched_shared_a", torch.matmul, rn(3, 4), rn(2, 4, 5))
case("batch_broadcast", torch.matmul, rn(2, 1, 3, 4), rn(3, 4, 5))
case("batch_4d_n1", torch.matmul, rn(2, 2, 3, 4), rn(2, 2, 4, 1))
case("batched_mv", torch.matmul, rn(2, 3, 4), rn(4))
case("vm_batched", torch.matmul, rn(4), rn(2, 4, 5))

# --- composites ---
case("softmax_affine", lambda a, b, c, d: torch.mean(F.softmax(a @ b + c, dim=-1) * d), rn(3, 4), rn(4, 5), rn(5), rn(3, 5))
case("attention_like", lambda q, k, v: F.softmax(q @ k.transpose(1, 2) * 0.5, dim=-1) @ v, rn(2, 4, 3), rn(2, 5, 3), rn(2, 5, 2))
case("mixed", lambda x, w: ((x - x.mean(dim=1, keepdim=True)) / (x * x + 1.0).sum(dim=1, keepdim=True) * w).relu().sum(),
     rn(3, 4), rn(4))

# --- linear classifiers with cross-entropy ---
K = 5
tgt = torch.randint(0, K, (12,), generator=g)
tgt[[1, 6]] = -1
w_cls = (torch.rand(K, generator=g) + 0.5).float()


def linear_ce(reduction, ignore=-1):
    return lambda x, w, b, t, cw: F.cross_entropy(x @ w + b, t.long(), weight=cw, ignore_index=ignore, reduction=reduction)


for red in ["mean", "sum", "none"]:
    case(f"linear_ce_{red}", linear_ce(red), rn(12, 3), rn(3, K), rn(K), tgt, w_cls, grads=[0, 1, 2])
case("ce_default", lambda x, t: F.cross_entropy(x, t.long()), rn(6, 4, scale=2.0), torch.randint(0, 4, (6,), generator=g))
tgt4 = torch.randint(0, K, (2, 3, 4), generator=g)
tgt4[0, 1, :2] = 255


def conv1x1_logits(x, w, b):
    """A 1x1 classifier on [B, C, H, W] written with permute and matmul."""
    return (x.permute(0, 2, 3, 1) @ w + b).permute(0, 3, 1, 2)


case("ce_4d_weighted", lambda x, w, b, t, cw: F.cross_entropy(conv1x1_logits(x, w, b), t.long(), weight=cw, ignore_index=255),
     rn(2, 3, 3, 4), rn(3, K), rn(K), tgt4, w_cls, grads=[0, 1, 2])


def ohem_case(name, min_kept, thresh, regime):
    """A 1x1 classifier under OHEM; the seed is chosen so that no probability is within 1e-4 of the
    threshold (the kept set must not hinge on float rounding) and the threshold comes from `regime`."""
    for seed in range(1000, 1400):
        gg = gen(seed)
        x = randn([2, 3, 4, 5], gg)
        w = randn([3, K], gg, 3.0)
        b = randn([K], gg)
        # The classifier's own prediction on about half the pixels, so that both sides of thresh are populated.
        t = torch.randint(0, K, (2, 4, 5), generator=gg)
        agree = torch.rand(t.shape, generator=gg) < 0.5
        t[agree] = conv1x1_logits(x, w, b).argmax(1)[agree]
        t[torch.rand(t.shape, generator=gg) < 0.15] = 255
        cw = (torch.rand(K, generator=gg) + 0.5).float()
        loss, _, thr, p = official_ohem(conv1x1_logits(x.double(), w.double(), b.double()), t, cw.double(), thresh,
                                        min_kept, 255)
        kth = p[min(min_kept, p.numel() - 1)].item()
        others = p[p != kth] if regime == "sorted" else p
        got = "sorted" if kth > thresh else "thresh"
        if (others - thr).abs().min() > 1e-4 and abs(kth - thresh) > 1e-4 and got == regime and (p < thr).sum() > 0:
            break
    else:
        raise SystemExit(f"{name}: no seed gives a clear threshold margin")
    fn = lambda x, w, b, t, cw: official_ohem(conv1x1_logits(x, w, b), t.long(), cw, thresh, min_kept, 255)[0]
    case(name, fn, x, w, b, t, cw, grads=[0, 1, 2])
    cases[-1].update({"thresh": thresh, "minKept": min_kept, "kept": int((p < thr).sum())})
    print(f"{name}: seed {seed}, threshold {thr:.4f} ({regime}), kept {cases[-1]['kept']} of {p.numel()}")


ohem_case("ohem_thresh", 5, 0.7, "thresh")
ohem_case("ohem_sorted", 20, 0.7, "sorted")

# --- argmax (forward only; stored as y.f64 = y.f32 = the indices) ---
for name, x, dim in [("argmax_dim1", rn(3, 4, 2), 1), ("argmax_neg", rn(2, 5), -1), ("argmax_flat", rn(3, 4), None)]:
    idx = torch.argmax(x, dim=dim)
    rec[f"{name}.in0"] = x
    put(rec, f"{name}.y", idx.double(), idx.float())
    cases.append({"name": name, "inputs": 1, "grads": [], "dim": dim})

save("f_basic", rec, {"cases": json.dumps(cases)})
