"""Fixtures for the differentiable F ops over the native kernels (lib/ops: conv, norm, pool,
attention, interp, dropout): forward and every input gradient by PyTorch autograd, on awkward
shapes (odd sizes, batch 2, H < 8 under the pyramid, S = N), plus two composite expressions:

  f_nn_ops    one case per op call; options in metadata 'cases' (JSON)
  f_nn_stack  conv-bn(train)-relu-maxpool-conv-bn(train)-relu: output, running stats, every gradient
  f_nn_apnb   APNB's attention core with ONE key/query module used twice (query and pooled key)

Run: /usr/bin/python3 test/reference/f_nn.py
"""
import json

import torch
import torch.nn.functional as F

from common import both, gen, our_mask, put, randn, save

g = gen(20240603)


def rn(shape, scale=1.0):
    return randn(list(shape), g, scale)


def seed_grad(rec, key, y64, y32):
    """Backpropagates the same float32 upstream gradient through both precisions; stores it as key."""
    dy = rn(y64.shape)
    rec[key] = dy
    y64.backward(dy.double())
    y32.backward(dy)


def put_grads(rec, key, names, x64, x32):
    for i, n in enumerate(names):
        if n is not None:
            put(rec, f"{key}.d{n}", x64[i].grad, x32[i].grad)


def network_record(net, x, params):
    """Runs net(x, *params.values()) in both precisions: the record of x, params, y, dy and the
    gradients dx and d<param name>."""
    y64, y32, x64, x32 = both(net, x, *params.values(), requires_grad=tuple(range(len(params) + 1)))
    rec = {"x": x, **params}
    put(rec, "y", y64, y32)
    seed_grad(rec, "dy", y64, y32)
    for i, n in enumerate(["x", *params]):
        put(rec, "d" + n, x64[i].grad, x32[i].grad)
    return rec


def ops_fixture():
    rec, cases = {}, []

    def case(op, key, fn, inputs, names, **opts):
        """inputs: {name: tensor}; names: which inputs get gradients (others None)."""
        keys = list(inputs)
        vals = [inputs[k] for k in keys]
        want = tuple(i for i, k in enumerate(keys) if k in names)
        y64, y32, x64, x32 = both(fn, *vals, requires_grad=want)
        for k, v in inputs.items():
            if v is not None:
                rec[f"{key}.{k}"] = v
        put(rec, f"{key}.y", y64, y32)
        seed_grad(rec, f"{key}.dy", y64, y32)
        put_grads(rec, key, [k if k in names else None for k in keys], x64, x32)
        cases.append(dict(op=op, key=key, inputs=keys, grads=names, **opts))

    # conv2d: stride/padding/dilation as ints and pairs, with and without bias, 1x1
    for key, xs, ws, bias, o in [
        ("conv_s2p1", [2, 3, 7, 9], [4, 3, 3, 3], True, dict(stride=2, padding=1, dilation=1)),
        ("conv_pairs", [1, 2, 6, 5], [3, 2, 3, 2], False, dict(stride=[1, 2], padding=[2, 1], dilation=[2, 1])),
        ("conv_1x1", [2, 5, 4, 3], [6, 5, 1, 1], True, dict(stride=1, padding=0, dilation=1)),
    ]:
        inputs = {"x": rn(xs), "weight": rn(ws, 0.3)}
        if bias:
            inputs["bias"] = rn([ws[0]])
        o_ = dict(o)

        def fn(x, w, b=None, o_=o_):
            return F.conv2d(x, w, b, **o_)

        case("conv2d", key, fn, inputs, list(inputs), **o)

    # batch_norm: train (affine, running stats), eval, train without affine or running stats on 3-D
    for key, xs, training, affine, stats in [
        ("bn_train", [2, 3, 5, 7], True, True, True),
        ("bn_eval", [2, 4, 3, 3], False, True, True),
        ("bn_plain3d", [3, 2, 4], True, False, False),
    ]:
        c = xs[1]
        x = rn(xs, 2.0) + 0.5
        rm, rv = rn([c], 0.2), rn([c], 0.2).abs() + 0.5
        inputs = {"x": x}
        if affine:
            inputs["weight"], inputs["bias"] = rn([c]), rn([c])
        run = {}

        def fn(x, w=None, b=None, training=training, stats=stats, run=run):
            m, v = (rm.to(x.dtype).clone(), rv.to(x.dtype).clone()) if stats else (None, None)
            y = F.batch_norm(x, m, v, w, b, training=training, momentum=0.3, eps=1e-4)
            run[x.dtype] = (m, v)
            return y

        case("batchNorm", key, fn, inputs, list(inputs), training=training, stats=stats, momentum=0.3, eps=1e-4)
        if stats:
            rec[f"{key}.runningMean0"], rec[f"{key}.runningVar0"] = rm, rv
            put(rec, f"{key}.runningMean", run[torch.float64][0], run[torch.float32][0])
            put(rec, f"{key}.runningVar", run[torch.float64][1], run[torch.float32][1])

    # max_pool2d: ceil mode on odd sizes, default stride, dilation with pairs
    for key, xs, o in [
        ("maxpool_ceil", [2, 3, 9, 7], dict(kernelSize=3, stride=2, padding=1, dilation=1, ceilMode=True)),
        ("maxpool_k2", [1, 2, 6, 5], dict(kernelSize=2)),
        ("maxpool_dil", [2, 1, 11, 8], dict(kernelSize=[3, 2], stride=[2, 1], padding=[1, 0], dilation=[2, 1], ceilMode=False)),
    ]:
        o_ = dict(o)

        def fn(x, o_=o_):
            return F.max_pool2d(
                x, o_["kernelSize"], o_.get("stride"), o_.get("padding", 0), o_.get("dilation", 1), o_.get("ceilMode", False)
            )

        case("maxPool2d", key, fn, {"x": rn(xs)}, ["x"], **o)

    # interpolate: by size (native kernel) and by scale factor, where PyTorch samples at 1/scale
    for key, xs, o in [
        ("interp_size", [2, 3, 5, 7], dict(size=[9, 4], alignCorners=False)),
        ("interp_size_ac", [1, 2, 5, 7], dict(size=[8, 13], alignCorners=True)),
        ("interp_square", [1, 2, 3, 4], dict(size=6, alignCorners=False)),
        ("interp_scale2", [2, 2, 5, 3], dict(scaleFactor=2, alignCorners=False)),
        ("interp_scale1_5", [2, 2, 5, 7], dict(scaleFactor=1.5, alignCorners=False)),
        ("interp_scale_pair", [1, 3, 9, 6], dict(scaleFactor=[0.45, 1.7], alignCorners=False)),
        ("interp_scale_ac", [1, 2, 5, 7], dict(scaleFactor=1.5, alignCorners=True)),
        ("interp_scale_same", [1, 2, 5, 6], dict(scaleFactor=1.1, alignCorners=False)),
    ]:
        o_ = dict(o)

        def fn(x, o_=o_):
            size = o_.get("size")
            sf = o_.get("scaleFactor")
            return F.interpolate(
                x,
                size=tuple(size) if isinstance(size, list) else size,
                scale_factor=tuple(sf) if isinstance(sf, list) else sf,
                mode="bilinear",
                align_corners=o_["alignCorners"],
            )

        case("interpolate", key, fn, {"x": rn(xs)}, ["x"], **o)

    # pyramid pooling: H < 8 (overlapping bins), max, custom sizes
    def pyramid(x, sizes, mode):
        pool = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d
        return torch.cat([pool(x, n).flatten(2) for n in sizes], 2)

    for key, xs, sizes, mode in [
        ("pyr_avg_h5", [2, 3, 5, 7], [1, 3, 6, 8], "avg"),
        ("pyr_max", [2, 2, 9, 10], [1, 3, 6, 8], "max"),
        ("pyr_sizes", [1, 3, 8, 6], [2, 4], "avg"),
    ]:
        case("pyramidPool", key, lambda x, s=sizes, m=mode: pyramid(x, s, m), {"x": rn(xs)}, ["x"], sizes=sizes, mode=mode)

    # gather at positions (repeats accumulate)
    b, c, h, w, s = 2, 3, 5, 6, 9
    pos = torch.randint(0, h * w, (b, s), generator=g)
    pos[:, -1] = pos[:, 0]
    rec["gather.positions"] = pos.int()
    idx = pos[:, None, :].expand(b, c, s)
    case("gatherPositions", "gather", lambda x: x.flatten(2).gather(2, idx), {"x": rn([b, c, h, w])}, ["x"])

    # attention: N != S, and S = N with an explicit scale
    def attn(q, k, v, scale):
        return torch.softmax(scale * (q @ k.transpose(1, 2)), dim=-1) @ v

    for key, (B, N, S, C, Cv), scale in [("attn", (2, 7, 11, 5, 3), None), ("attn_self", (1, 9, 9, 4, 6), 0.3)]:
        qkv = {"q": rn([B, N, C]), "k": rn([B, S, C]), "v": rn([B, S, Cv])}
        sc = C**-0.5 if scale is None else scale
        opts = {} if scale is None else {"scale": scale}
        case("asymmetricAttention", key, lambda q, k, v, sc=sc: attn(q, k, v, sc), qkv, ["q", "k", "v"], **opts)

    # dropout2d with an explicit seed: PyTorch applying our mask
    for key, xs, p, seed in [("drop3", [2, 5, 3, 4], 0.3, 1234), ("drop_3d", [3, 4, 7], 0.5, 99)]:
        mask = our_mask(seed, p, xs[0], xs[1]).reshape(xs[:2] + [1] * (len(xs) - 2))
        case("dropout2d", key, lambda x, m=mask: x * m.to(x.dtype), {"x": rn(xs)}, ["x"], p=p, seed=seed)

    save("f_nn_ops", rec, {"cases": json.dumps(cases)})


def stack_fixture():
    """conv(3->4, 3x3, pad 1, no bias) -> bn(train) -> relu -> maxpool(3, 2, 1) ->
    conv(4->5, 3x3, dilation 2, pad 2, bias) -> bn(train) -> relu."""
    x = rn([2, 3, 11, 9])
    params = {
        "conv1.weight": rn([4, 3, 3, 3], 0.3),
        "bn1.weight": rn([4]).abs() + 0.5,
        "bn1.bias": rn([4], 0.1),
        "conv2.weight": rn([5, 4, 3, 3], 0.3),
        "conv2.bias": rn([5], 0.1),
        "bn2.weight": rn([5]).abs() + 0.5,
        "bn2.bias": rn([5], 0.1),
    }
    stats = {}

    def net(x, c1w, b1w, b1b, c2w, c2b, b2w, b2b):
        m1, v1 = torch.zeros(4, dtype=x.dtype), torch.ones(4, dtype=x.dtype)
        m2, v2 = torch.zeros(5, dtype=x.dtype), torch.ones(5, dtype=x.dtype)
        h = F.conv2d(x, c1w, None, padding=1)
        h = F.relu(F.batch_norm(h, m1, v1, b1w, b1b, training=True))
        h = F.max_pool2d(h, 3, 2, 1)
        h = F.conv2d(h, c2w, c2b, padding=2, dilation=2)
        h = F.relu(F.batch_norm(h, m2, v2, b2w, b2b, training=True))
        stats[x.dtype] = {"bn1.running_mean": m1, "bn1.running_var": v1, "bn2.running_mean": m2, "bn2.running_var": v2}
        return h

    rec = network_record(net, x, params)
    for n in stats[torch.float64]:
        put(rec, n, stats[torch.float64][n], stats[torch.float32][n])
    save("f_nn_stack", rec)


def apnb_fixture():
    """APNB's attention core: f_key and f_query are ONE module (conv1x1 + bn(train) + relu), so its
    output kq feeds both the query (every pixel) and the key (pyramid-pooled); value = conv1x1(x)."""
    B, C, H, W, Ck, Cv = 2, 6, 7, 5, 4, 3
    x = rn([B, C, H, W])
    params = {
        "f_key.0.weight": rn([Ck, C, 1, 1], 0.4),
        "f_key.0.bias": rn([Ck], 0.1),
        "f_key.1.weight": rn([Ck]).abs() + 0.5,
        "f_key.1.bias": rn([Ck], 0.1),
        "f_value.weight": rn([Cv, C, 1, 1], 0.4),
        "f_value.bias": rn([Cv], 0.1),
    }

    def pyramid(t):
        return torch.cat([F.adaptive_avg_pool2d(t, n).flatten(2) for n in (1, 3, 6, 8)], 2)

    def core(x, kw, kb, bw, bb, vw, vb):
        kq = F.relu(F.batch_norm(F.conv2d(x, kw, kb), None, None, bw, bb, training=True))
        value = pyramid(F.conv2d(x, vw, vb)).transpose(1, 2)  # [B, S, Cv]
        key = pyramid(kq)  # [B, Ck, S]
        query = kq.flatten(2).transpose(1, 2)  # [B, N, Ck]
        sim = torch.softmax((query @ key) * Ck**-0.5, dim=-1)
        return sim @ value  # [B, N, Cv]

    save("f_nn_apnb", network_record(core, x, params))


if __name__ == "__main__":
    torch.set_num_threads(1)
    ops_fixture()
    stack_fixture()
    apnb_fixture()
