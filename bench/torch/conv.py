"""PyTorch side of bench/kernels/conv.ts (same case names): conv2d forward+backward (dx, dweight)
at the dilated ResNet's layer3/layer4 shapes, and batch norm training forward+backward."""
import torch
import torch.nn.functional as F

from common import DEVICE, grad_run, run_cases, setup, uniform

S = 65


def conv_case(name, cin, cout, k, dilation):
    pad = dilation * ((k - 1) // 2)
    x = uniform(1, cin, S, S, grad=True)
    w = (uniform(cout, cin, k, k) / (cin * k * k) ** 0.5).requires_grad_(True)
    dy = uniform(1, cout, S, S)
    run = grad_run(lambda: F.conv2d(x, w, None, padding=pad, dilation=dilation), (x, w), dy)
    return name, run, 3 * 2 * cout * cin * k * k * S * S


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
        lambda: conv_case("conv2d fwd+bwd 1x1 1024->256 1x65x65", 1024, 256, 1, 1),
        lambda: conv_case("conv2d fwd+bwd 1x1 2048->512 1x65x65", 2048, 512, 1, 1),
        lambda: bn_case("batchNorm train fwd+bwd 1x512x65x65", (1, 512, S, S)),
        lambda: bn_case("batchNorm train fwd+bwd 8x64x129x129", (8, 64, 129, 129)),
    ])


if __name__ == "__main__":
    main()
