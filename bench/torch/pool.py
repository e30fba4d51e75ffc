"""PyTorch side of bench/kernels/pool.ts (same case names): the pyramid as four adaptive pools +
flatten + cat, forward and backward (dx), and the ResNet stem's 3x3/2 ceil max pool."""
import sys

import torch
import torch.nn.functional as F

from common import bench, setup

SIZES = (1, 3, 6, 8)


def pyramid_case(name, mode, backward):
    x = (torch.rand(1, 256, 256, 128) * 2 - 1).requires_grad_(backward)
    dy = torch.rand(1, 256, 110) * 2 - 1
    pool = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d

    def run():
        with torch.set_grad_enabled(backward):
            y = torch.cat([pool(x, n).flatten(2) for n in SIZES], 2)
            if backward:
                torch.autograd.grad(y, x, dy)

    return name, run


def max_pool_case(name, backward):
    x = (torch.rand(1, 128, 385, 385) * 2 - 1).requires_grad_(backward)
    dy = torch.rand(1, 128, 193, 193) * 2 - 1

    def run():
        with torch.set_grad_enabled(backward):
            y = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
            if backward:
                torch.autograd.grad(y, x, dy)

    return name, run


def main():
    setup()
    flt = sys.argv[1] if len(sys.argv) > 1 else None
    cases = [
        lambda: pyramid_case("pyramidPool avg fwd 1x256x256x128", "avg", False),
        lambda: pyramid_case("pyramidPool avg fwd+bwd 1x256x256x128", "avg", True),
        lambda: pyramid_case("pyramidPool max fwd+bwd 1x256x256x128", "max", True),
        lambda: max_pool_case("maxPool2d 3x3/2 ceil fwd 1x128x385x385", False),
        lambda: max_pool_case("maxPool2d 3x3/2 ceil fwd+bwd 1x128x385x385", True),
    ]
    for make in cases:
        name, run = make()
        if flt and flt not in name and flt != "pool":
            continue
        bench(name, run)


if __name__ == "__main__":
    main()
