"""Fixtures for bilinear interpolation: F.interpolate(mode='bilinear', size=..., align_corners=...),
forward and input gradient, for both align_corners values over up/down-sampling, size 1 on either
side, non-square planes and the ANN pattern (logits upsampled 8x with align_corners=True); and by
scale_factor, where PyTorch samples at 1/scale_factor rather than in/out (align_corners off), keeps
an axis whose size does not change as it is, and ignores the factor with align_corners on."""
import json
import math

import torch
import torch.nn.functional as F

from common import both, gen, put, randn, save

# name: (input shape, output size)
CASES = {
    "up": ([2, 3, 5, 7], [9, 12]),
    "down": ([1, 2, 13, 11], [4, 5]),
    "mixed": ([2, 2, 6, 5], [3, 11]),
    "out1": ([1, 2, 4, 6], [1, 1]),
    "in1": ([2, 1, 1, 5], [3, 6]),
    "in1x1": ([1, 2, 1, 1], [4, 3]),
    "same": ([1, 2, 3, 4], [3, 4]),
    "ann8x": ([1, 1, 5, 6], [33, 41]),
}

# name: (input shape, scale_factor [sh, sw]); the output size is PyTorch's floor(in * scale).
SCALE_CASES = {
    "s1_5": ([2, 2, 5, 7], [1.5, 1.5]),
    "spair": ([1, 3, 9, 6], [0.45, 1.7]),
    "sdown": ([1, 1, 13, 11], [0.3, 0.3]),
    "skeep": ([1, 2, 5, 9], [1.15, 1.15]),
    "sin1": ([2, 1, 1, 4], [3.7, 2.5]),
}


def main():
    g = gen(1)
    rec, cases = {}, []
    sized = [(name, shape, size, None) for name, (shape, size) in CASES.items()]
    scaled = [(name, shape, [math.floor(float(shape[2 + i]) * scale[i]) for i in range(2)], scale)
              for name, (shape, scale) in SCALE_CASES.items()]
    for name, shape, size, scale in sized + scaled:
        x = randn(shape, g)
        dy = randn([shape[0], shape[1]] + size, g)
        rec[f"{name}.x"] = x
        rec[f"{name}.dy"] = dy
        by = {"size": size} if scale is None else {"scale_factor": scale}
        for ac in (False, True):
            key = f"{name}.{'ac' if ac else 'hp'}"
            fn = lambda t: F.interpolate(t, **by, mode="bilinear", align_corners=ac)
            y64, y32, x64, x32 = both(fn, x, requires_grad=(0,))
            assert list(y64.shape[2:]) == size
            y64.backward(dy.double())
            y32.backward(dy)
            put(rec, key + ".y", y64, y32)
            put(rec, key + ".dx", x64[0].grad, x32[0].grad)
            scale_entry = {} if scale is None else {"scale": scale}
            cases.append({"key": key, "input": name, "size": size, **scale_entry, "alignCorners": ac})
    save("interp", rec, {"cases": json.dumps(cases)})


if __name__ == "__main__":
    main()
