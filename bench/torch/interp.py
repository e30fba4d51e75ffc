"""PyTorch side of bench/kernels/interp.ts (same case names): F.interpolate bilinear,
align_corners=True, forward and forward + input gradient."""
import sys

import torch
import torch.nn.functional as F

from common import bench, setup


def interp_case(name, shape, size, backward):
    x = (torch.rand(*shape) * 2 - 1).requires_grad_(backward)
    dy = torch.rand(shape[0], shape[1], *size) * 2 - 1

    def run():
        with torch.set_grad_enabled(backward):
            y = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
            if backward:
                torch.autograd.grad(y, x, dy)

    return name, run


def main():
    setup()
    flt = sys.argv[1] if len(sys.argv) > 1 else None
    cases = [
        lambda: interp_case("interpolateBilinear ac fwd 2x19x97x97->769x769", (2, 19, 97, 97), (769, 769), False),
        lambda: interp_case("interpolateBilinear ac fwd+bwd 2x19x97x97->769x769", (2, 19, 97, 97), (769, 769), True),
    ]
    for make in cases:
        name, run = make()
        if flt and flt not in name and flt != "interp":
            continue
        bench(name, run)


if __name__ == "__main__":
    main()
