"""PyTorch side of bench/kernels/elementwise.ts (same case names)."""
import sys

import torch

from common import bench, setup

F = (1, 512, 129, 129)


def rand(*shape, grad=False):
    return (torch.rand(*shape) * 2 - 1).requires_grad_(grad)


def main():
    setup()
    flt = sys.argv[1] if len(sys.argv) > 1 else None
    a, b = rand(*F), rand(*F)
    xg, dy = rand(*F, grad=True), rand(*F)
    p = rand(1, 256, 8192)
    c1, c2 = rand(1, 2048, 65, 65), rand(1, 2048, 65, 65)
    m1, m2 = rand(2048, 2048), rand(2048, 2048)
    cases = [
        ("add [1,512,129,129]", lambda: torch.add(a, b), None),
        ("relu fwd+bwd [1,512,129,129]", lambda: torch.autograd.grad(torch.relu(xg), xg, dy), None),
        ("permute [1,256,8192]->[1,8192,256]", lambda: p.permute(0, 2, 1).contiguous(), None),
        ("cat 2x[1,2048,65,65] axis 1", lambda: torch.cat([c1, c2], 1), None),
        ("matmul 2048x2048x2048", lambda: torch.matmul(m1, m2), 2 * 2048**3),
    ]
    for name, run, flops in cases:
        if flt and flt not in name and flt != "elementwise":
            continue
        bench(name, run, flops=flops)


if __name__ == "__main__":
    main()
