"""PyTorch side of bench/kernels/pool.ts (same case names): the pyramid as four adaptive pools +
flatten + cat, forward and backward (dx), and the ResNet stem's 3x3/2 ceil max pool."""
import torch
import torch.nn.functional as F

from common import grad_run, run_cases, setup, uniform

SIZES = (1, 3, 6, 8)


def pyramid_case(name, mode, backward):
    x = uniform(1, 256, 256, 128, grad=backward)
    dy = uniform(1, 256, 110)
    pool = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d
    return name, grad_run(lambda: torch.cat([pool(x, n).flatten(2) for n in SIZES], 2), x, dy, backward)


def max_pool_case(name, backward):
    x = uniform(1, 128, 385, 385, grad=backward)
    dy = uniform(1, 128, 193, 193)
    return name, grad_run(lambda: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), x, dy, backward)


def main():
    setup()
    run_cases("pool", [
        lambda: pyramid_case("pyramidPool avg fwd 1x256x256x128", "avg", False),
        lambda: pyramid_case("pyramidPool avg fwd+bwd 1x256x256x128", "avg", True),
        lambda: pyramid_case("pyramidPool max fwd+bwd 1x256x256x128", "max", True),
        lambda: max_pool_case("maxPool2d 3x3/2 ceil fwd 1x128x385x385", False),
        lambda: max_pool_case("maxPool2d 3x3/2 ceil fwd+bwd 1x128x385x385", True),
    ])


if __name__ == "__main__":
    main()
