"""PyTorch side of lib/cli/bench/kernels/conv.ts (same case names): conv2d forward+backward (dx, dweight)
at the dilated ResNet's layer3/layer4 shapes (65x65, and the small preset's step shapes), and batch norm
training forward+backward."""
import torch
import torch.nn.functional as F

from common import DEVICE, grad_run, run_cases, setup, uniform

S = 65


def conv_case(name, cin, cout, k, dilation, batch=1, size=S):
    pad = dilation * ((k - 1) // 2)
    x = uniform(batch, cin, size, size, grad=True)
    w = (uniform(cout, cin, k, k) / (cin * k * k) ** 0.5).requires_grad_(True)
    dy = uniform(batch, cout, size, size)
    run = grad_run(lambda: F.conv2d(x, w, None, padding=pad, dilation=dilation), (x, w), dy)
    return name, run, 3 * 2 * batch * cout * cin * k * k * size * size


def bn_case(name, shape):
    c = shape[1]
    x = uniform(*shape, grad=True)
    w = torch.ones(c, requires_grad=True, device=DEVICE)
    b = torch.zeros(c, requires_grad=True, device=DEVICE)
    rm, rv = torch.zeros(c, device=DEVICE), torch.ones(c, device=DEVICE)
    dy = uniform(*shape)
    return name, grad_run(lambda: F.batch_norm(x, rm, rv, w, b, training=True), (x, w, b), dy)


def main():
    setup()
    run_cases("conv", [
        lambda: conv_case("conv2d fwd+bwd 3x3 dil2 256->256 1x65x65", 256, 256, 3, 2),
        lambda: conv_case("conv2d fwd+bwd 3x3 dil4 512->512 1x65x65", 512, 512, 3, 4),
        lambda: conv_case("conv2d fwd+bwd 3x3 dil2 64->64 8x8x8", 64, 64, 3, 2, 8, 8),
        lambda: conv_case("conv2d fwd+bwd 3x3 dil4 128->128 8x8x8", 128, 128, 3, 4, 8, 8),
        lambda: conv_case("conv2d fwd+bwd 3x3 dil4 128->128 8x9x9", 128, 128, 3, 4, 8, 9),
        lambda: conv_case("conv2d fwd+bwd 3x3 dil2 128->128 8x9x9", 128, 128, 3, 2, 8, 9),
        lambda: conv_case("conv2d fwd+bwd 3x3 dil2 64->64 8x9x9", 64, 64, 3, 2, 8, 9),
        lambda: conv_case("conv2d fwd+bwd 3x3 dil2 64->128 8x9x9", 64, 128, 3, 2, 8, 9),
        lambda: conv_case("conv2d fwd+bwd 3x3 128->64 8x9x9", 128, 64, 3, 1, 8, 9),
        lambda: conv_case("conv2d fwd+bwd 3x3 32->32 8x9x9", 32, 32, 3, 1, 8, 9),
        lambda: conv_case("conv2d fwd+bwd 3x3 16->16 8x17x17", 16, 16, 3, 1, 8, 17),
        lambda: conv_case("conv2d fwd+bwd 3x3 16->16 8x32x32", 16, 16, 3, 1, 8, 32),
        lambda: conv_case("conv2d fwd+bwd 1x1 1024->256 1x65x65", 1024, 256, 1, 1),
        lambda: conv_case("conv2d fwd+bwd 1x1 2048->512 1x65x65", 2048, 512, 1, 1),
        lambda: bn_case("batchNorm train fwd+bwd 1x512x65x65", (1, 512, S, S)),
        lambda: bn_case("batchNorm train fwd+bwd 8x64x129x129", (8, 64, 129, 129)),
    ])


if __name__ == "__main__":
    main()
