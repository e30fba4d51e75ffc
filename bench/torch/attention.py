"""PyTorch side of bench/kernels/attention.ts (same case names): bmm + softmax + bmm, with
autograd for the backward (q, k, v all need grads), at APNB's size and at S = N."""
import sys

import torch

from common import bench, setup


def attention_case(name, N, S, C, Cv, backward):
    q = (torch.rand(1, N, C) * 2 - 1) * 2
    k = (torch.rand(1, S, C) * 2 - 1) * 2
    v = torch.rand(1, S, Cv) * 2 - 1
    dout = torch.rand(1, N, Cv) * 2 - 1
    scale = C ** -0.5
    if backward:
        for t in (q, k, v):
            t.requires_grad_(True)

    def forward():
        return torch.bmm(torch.softmax(torch.bmm(q, k.transpose(1, 2)) * scale, dim=-1), v)

    def run():
        if backward:
            torch.autograd.grad(forward(), (q, k, v), dout)
        else:
            with torch.no_grad():
                forward()

    return name, run, (3 if backward else 1) * 2 * N * S * (C + Cv)


def main():
    setup()
    flt = sys.argv[1] if len(sys.argv) > 1 else None
    cases = [
        lambda: attention_case("attention fwd+bwd N=32768 S=110 C=Cv=256", 32768, 110, 256, 256, True),
        lambda: attention_case("attention fwd N=32768 S=110 C=Cv=256", 32768, 110, 256, 256, False),
        lambda: attention_case("attention fwd+bwd N=S=4096 C=Cv=256", 4096, 4096, 256, 256, True),
        lambda: attention_case("attention fwd N=S=4096 C=Cv=256", 4096, 4096, 256, 256, False),
    ]
    for make in cases:
        name, run, flops = make()
        if flt and flt not in name and flt != "attention":
            continue
        bench(name, run, flops=flops)


if __name__ == "__main__":
    main()
