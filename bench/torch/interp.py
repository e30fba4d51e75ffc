"""PyTorch side of bench/kernels/interp.ts (same case names): F.interpolate bilinear,
align_corners=True, forward and forward + input gradient."""
import torch.nn.functional as F

from common import grad_run, run_cases, setup, uniform


def interp_case(name, shape, size, backward):
    x = uniform(*shape, grad=backward)
    dy = uniform(shape[0], shape[1], *size)
    def forward():
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)

    return name, grad_run(forward, x, dy, backward)


def main():
    setup()
    run_cases("interp", [
        lambda: interp_case("interpolateBilinear ac fwd 2x19x97x97->769x769", (2, 19, 97, 97), (769, 769), False),
        lambda: interp_case("interpolateBilinear ac fwd+bwd 2x19x97x97->769x769", (2, 19, 97, 97), (769, 769), True),
    ])


if __name__ == "__main__":
    main()
