"""conv2d forward and every gradient (x, weight, bias) over awkward geometries -> test/fixtures/conv.safetensors.

Run: /usr/bin/python3 test/reference/conv.py
"""
import json

import torch
import torch.nn.functional as F

from common import both, gen, put, randn, save

# name: (B, Cin, H, W, Cout, kh, kw, stride, padding, dilation, bias)
CASES = {
    "pointwise": (2, 5, 7, 6, 3, 1, 1, 1, 0, 1, True),
    "k3_pad1": (2, 4, 9, 11, 6, 3, 3, 1, 1, 1, True),
    "k3_stride2_odd": (1, 3, 9, 9, 5, 3, 3, 2, 1, 1, False),
    "k1_stride2": (2, 6, 7, 9, 4, 1, 1, 2, 0, 1, True),
    "k3_dil2_pad2": (1, 8, 10, 13, 8, 3, 3, 1, 2, 2, True),
    "k3_dil4_pad4": (1, 6, 11, 9, 4, 3, 3, 1, 4, 4, False),
    "nonsquare": (2, 3, 8, 10, 2, 3, 5, [2, 1], [1, 2], [1, 2], True),
    "small_input_dil4": (2, 3, 3, 2, 4, 3, 3, 1, 4, 4, True),
    "k7_stride2_pad3": (1, 3, 13, 12, 4, 7, 7, 2, 3, 1, False),
    "spatial1": (3, 7, 1, 1, 5, 1, 1, 1, 0, 1, True),
    "k2_stride3_pad2": (2, 2, 6, 5, 3, 2, 2, 3, 2, 1, True),
    # The model's layer4 at a 64 crop: 56% of the taps in the padding, so the plane is cut into regions.
    "dil4_8x8": (1, 5, 8, 8, 6, 3, 3, 1, 4, 4, True),
    "dil4_8x8_batch3": (3, 4, 8, 8, 5, 3, 3, 1, 4, 4, False),
    # The direct kernel (stride 1, planes up to 1024 pixels): pixel groups by their taps across the
    # batch, short last tiles, Cout not a multiple of any vector length and over several blocks,
    # one input channel, 1x3 and 5x5 kernels, unequal dilations, padding wider than the kernel's reach
    # (pixels with no tap inside, and a negative padding in the data gradient).
    "direct_dil2_batch3": (3, 13, 9, 9, 21, 3, 3, 1, 2, 2, True),
    "direct_dil4_cout40": (2, 17, 9, 11, 40, 3, 3, 1, 4, 4, False),
    "direct_cout130": (1, 3, 7, 5, 130, 3, 3, 1, 1, 1, True),
    "direct_cin1": (2, 1, 6, 7, 3, 3, 3, 1, 1, 1, True),
    "direct_k1x3": (2, 5, 6, 8, 7, 1, 3, 1, [0, 1], 1, False),
    "direct_k5_dil2x1": (2, 4, 8, 9, 9, 5, 5, 1, 3, [2, 1], True),
    "direct_valid": (1, 8, 6, 6, 16, 3, 3, 1, 0, 1, True),
    "direct_32x30": (1, 4, 32, 30, 8, 3, 3, 1, 1, 1, True),
    "direct_pad_past_kernel": (1, 3, 4, 5, 4, 3, 3, 1, 3, 1, True),
    # Planes over 1024 pixels keep the GEMM path's regions.
    "gemm_plane_dil2": (1, 3, 36, 34, 4, 3, 3, 1, 2, 2, True),
    "gemm_plane_dil4": (1, 2, 33, 33, 3, 3, 3, 1, 4, 4, False),
}


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


def main():
    g = gen(7)
    rec, meta = {}, {}
    for name, (B, Cin, H, W, Cout, kh, kw, stride, padding, dilation, has_bias) in CASES.items():
        opts = {"stride": stride, "padding": padding, "dilation": dilation}
        meta[name] = json.dumps({**opts, "bias": has_bias})
        x = randn((B, Cin, H, W), g)
        w = randn((Cout, Cin, kh, kw), g, scale=(Cin * kh * kw) ** -0.5)
        b = randn((Cout,), g) if has_bias else None
        fn = lambda x, w, b: F.conv2d(x, w, b, stride=pair(stride), padding=pair(padding), dilation=pair(dilation))
        y64, y32, in64, in32 = both(fn, x, w, b, requires_grad=(0, 1, 2))
        dy = randn(tuple(y32.shape), g)
        y64.backward(dy.double())
        y32.backward(dy)
        rec[f"{name}.x"], rec[f"{name}.weight"], rec[f"{name}.dy"] = x, w, dy
        put(rec, f"{name}.y", y64, y32)
        put(rec, f"{name}.dx", in64[0].grad, in32[0].grad)
        put(rec, f"{name}.dweight", in64[1].grad, in32[1].grad)
        if has_bias:
            rec[f"{name}.bias"] = b
            put(rec, f"{name}.dbias", in64[2].grad, in32[2].grad)

    # NaN and Inf in x propagate through the forward and the weight gradient.
    x = randn((1, 2, 5, 6), g)
    x[0, 0, 2, 3] = float("nan")
    x[0, 1, 0, 0] = float("inf")
    w = randn((3, 2, 3, 3), g, scale=0.3)
    fn = lambda x, w: F.conv2d(x, w, None, padding=1)
    y64, y32, in64, in32 = both(fn, x, w, requires_grad=(0, 1))
    dy = randn(tuple(y32.shape), g)
    y64.backward(dy.double())
    y32.backward(dy)
    rec["nonfinite.x"], rec["nonfinite.weight"], rec["nonfinite.dy"] = x, w, dy
    put(rec, "nonfinite.y", y64, y32)
    put(rec, "nonfinite.dx", in64[0].grad, in32[0].grad)
    put(rec, "nonfinite.dweight", in64[1].grad, in32[1].grad)
    meta["nonfinite"] = json.dumps({"stride": 1, "padding": 1, "dilation": 1, "bias": False})

    save("conv", rec, meta)


if __name__ == "__main__":
    main()
