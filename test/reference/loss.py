"""Fixtures for the loss family: softmax / log_softmax (forward and input gradient) over several
axes, argmax (ties, NaN), F.cross_entropy (weights, ignore_index, every reduction, the awkward
cases), and the official ANN OHEM loss (openseg's FSOhemCELoss), built so that no probability sits
within 1e-4 of the threshold (the kept set must not hinge on float rounding)."""
import json

import torch
import torch.nn.functional as F

from common import both, gen, official_ohem, put, randn, save

CITYSCAPES_WEIGHT = [0.8373, 0.9180, 0.8660, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
                     0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507]


def softmax_fixtures():
    g = gen(2)
    nonfinite = torch.tensor([[1.0, float("-inf"), 2.0, 3.0],
                              [float("nan"), 1.0, 2.0, 3.0],
                              [float("inf"), 1.0, 2.0, 3.0],
                              [float("-inf")] * 4,
                              [1e30, -1e30, 0.0, 5.0]])
    cases = {  # name: (x, axis)
        "nchw": (randn([2, 5, 3, 4], g, 3.0), 1),
        "last": (randn([3, 7], g, 3.0), -1),
        "axis0": (randn([4, 3, 2], g), 0),
        "n1": (randn([4, 1, 3], g), 1),
        "wide": (randn([2, 70], g, 5.0), 1),
        "large": (randn([1, 19, 5, 7], g, 30.0), 1),
        "tile": (randn([1, 2, 13, 11], g), 1),  # 143 positions: a full tile of 128 and a partial one
        "nonfinite": (nonfinite, 1),
    }
    rec, meta = {}, []
    for name, (x, axis) in cases.items():
        dy = randn(list(x.shape), g)
        rec[f"{name}.x"] = x
        rec[f"{name}.dy"] = dy
        for fname, fn in (("softmax", torch.softmax), ("logSoftmax", torch.log_softmax)):
            y64, y32, x64, x32 = both(lambda t: fn(t, axis), x, requires_grad=(0,))
            y64.backward(dy.double())
            y32.backward(dy)
            put(rec, f"{name}.{fname}.y", y64, y32)
            put(rec, f"{name}.{fname}.dx", x64[0].grad, x32[0].grad)
        meta.append({"name": name, "axis": axis})
    # argmax: small integers make ties; NaN counts as the maximum.
    am = {
        "ties": (torch.randint(0, 3, (2, 5, 3, 4), generator=g).float(), 1),
        "last": (torch.randint(0, 4, (6, 9), generator=g).float(), -1),
        "axis0": (randn([5, 3, 2], g), 0),
        "nan": (torch.tensor([[1.0, float("nan"), 3.0, float("nan")], [2.0, 2.0, 1.0, float("-inf")],
                              [float("-inf")] * 4]), 1),
    }
    am_meta = []
    for name, (x, axis) in am.items():
        rec[f"argmax.{name}.x"] = x
        rec[f"argmax.{name}.idx"] = torch.argmax(x, axis).int()
        am_meta.append({"name": name, "axis": axis})
    save("loss_softmax", rec, {"cases": json.dumps(meta), "argmax": json.dumps(am_meta)})


def ce_fixtures():
    g = gen(3)
    rec, meta = {}, []

    def targets(shape, k, ignore, frac_ignored):
        t = torch.randint(0, k, shape, generator=g)
        mask = torch.rand(shape, generator=g) < frac_ignored
        t[mask] = ignore
        return t

    cases = [  # name, logits shape, ignore, fraction ignored, weighted, reductions
        ("nchw", [2, 5, 3, 4], -100, 0.2, False),
        ("nchw_w", [2, 5, 3, 4], -100, 0.2, True),
        ("rows_w", [6, 4], 2, 0.0, True),  # ignore_index inside [0, K): class 2 is ignored
        ("ann", [1, 19, 5, 7], 255, 0.15, True),
        ("pix1", [2, 3, 1, 1], -100, 0.0, False),
        ("tile", [1, 3, 13, 23], 255, 0.1, True),
        ("allignored", [1, 3, 2, 2], 255, 1.1, True),
        ("zeroweight", [1, 3, 2, 3], -100, 0.0, "zero"),
    ]
    for name, shape, ignore, frac, weighted in cases:
        k = shape[1]
        x = randn(shape, g, 2.0)
        t = targets([shape[0]] + shape[2:], k, ignore, frac)
        w = None
        if weighted == "zero":
            w = torch.zeros(k)
        elif weighted:
            w = (torch.rand(k, generator=g) + 0.5).float()
        rec[f"{name}.logits"] = x
        rec[f"{name}.target"] = t.int()
        if w is not None:
            rec[f"{name}.weight"] = w
        for red in ("mean", "sum", "none"):
            def fn(xx, ww):
                return F.cross_entropy(xx, t, weight=ww, ignore_index=ignore, reduction=red)
            l64, l32, x64, x32 = both(fn, x, w, requires_grad=(0,))
            dl = randn(list(l32.shape), g) if red == "none" else torch.tensor(0.75)
            l64.backward(dl.double())
            l32.backward(dl)
            rec[f"{name}.{red}.dloss"] = dl.float()
            put(rec, f"{name}.{red}.loss", l64, l32)
            put(rec, f"{name}.{red}.dlogits", x64[0].grad, x32[0].grad)
        meta.append({"name": name, "ignoreIndex": ignore, "weighted": w is not None})
    save("loss_ce", rec, {"cases": json.dumps(meta)})


def ohem_fixtures():
    rec, meta = {}, []
    cases = [  # name, shape, min_kept, thresh, weighted, ignore, expected regime
        ("thresh", [2, 5, 6, 7], 50, 0.7, False, 255, "thresh"),
        ("sorted_w", [2, 5, 6, 7], 60, 0.7, True, 255, "sorted"),
        ("minkept_above_valid_w", [1, 4, 5, 5], 100000, 0.7, True, 255, "sorted"),
        ("minkept_above_valid_low", [1, 4, 3, 3], 100000, 0.95, False, 255, "thresh"),
        ("ann_w", [1, 19, 8, 9], 30, 0.7, "cityscapes", 255, "thresh"),
        ("rows", [60, 6], 20, 0.6, True, -1, "sorted"),
    ]
    for name, shape, min_kept, thresh, weighted, ignore, regime in cases:
        k = shape[1]
        # Seeds from 100 until one fits: the rows case rarely reaches its sorted regime (sweep seed 4: the 471st).
        for seed in range(100, 3000):
            g = gen(seed)
            t = torch.randint(0, k, [shape[0]] + shape[2:], generator=g)
            t[torch.rand(t.shape, generator=g) < 0.12] = ignore
            # Confident on about half the pixels so that both sides of 0.7 are populated.
            boost = (torch.rand(t.shape, generator=g) < 0.55).float() * 4.0
            x = randn(shape, g, 1.5)
            onehot = F.one_hot(t.clamp(0, k - 1), k).movedim(-1, 1).float()
            x = (x + boost.unsqueeze(1) * onehot).float()
            w = None
            if weighted == "cityscapes":
                w = torch.tensor(CITYSCAPES_WEIGHT[:k])
            elif weighted:
                w = (torch.rand(k, generator=g) + 0.5).float()
            l64, n64, thr64, p64 = official_ohem(x.double(), t, None if w is None else w.double(), thresh,
                                                 min_kept, ignore)
            kth = p64[min(min_kept, p64.numel() - 1)].item()
            others = p64[p64 != kth] if regime == "sorted" else p64
            margin = (others - thr64).abs().min().item()
            got = "sorted" if kth > thresh else "thresh"
            # Every case has an ignored pixel (loss.test.ts asserts it): 9 pixels have none 1 time in 3.
            if margin > 1e-4 and abs(kth - thresh) > 1e-4 and got == regime and n64 > 0 and (t == ignore).any():
                break
        else:
            raise SystemExit(f"ohem case {name}: no seed gives a clear threshold margin")
        fn = lambda xx, ww: official_ohem(xx, t, ww, thresh, min_kept, ignore)
        (l64, n64, thr64, _), (l32, n32, thr32, _), x64, x32 = both(fn, x, w, requires_grad=(0,))
        assert n64 == n32, (name, n64, n32)
        dl = torch.tensor(1.3)
        l64.backward(dl.double())
        l32.backward(dl)
        rec[f"{name}.logits"] = x
        rec[f"{name}.target"] = t.int()
        if w is not None:
            rec[f"{name}.weight"] = w
        rec[f"{name}.dloss"] = dl
        rec[f"{name}.kept"] = torch.tensor(n64, dtype=torch.int32)
        put(rec, f"{name}.loss", l64, l32)
        put(rec, f"{name}.threshold", torch.tensor(thr64, dtype=torch.float64), torch.tensor(thr32))
        put(rec, f"{name}.dlogits", x64[0].grad, x32[0].grad)
        valid = int((t != ignore).sum())
        meta.append({"name": name, "minKept": min_kept, "thresh": thresh, "ignoreIndex": ignore,
                     "weighted": w is not None, "regime": regime, "valid": valid, "kept": n64,
                     "margin": margin})
        print(f"ohem {name}: seed {seed}, valid {valid}, kept {n64}, threshold {thr64:.5f} ({regime}), margin {margin:.2e}")
    save("loss_ohem", rec, {"cases": json.dumps(meta)})


if __name__ == "__main__":
    softmax_fixtures()
    ce_fixtures()
    ohem_fixtures()
