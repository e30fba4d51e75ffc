"""PyTorch side of bench/kernels/elementwise.ts (same case names)."""
import torch

from common import run_cases, setup, uniform

F = (1, 512, 129, 129)


def main():
    setup()
    a, b = uniform(*F), uniform(*F)
    xg, dy = uniform(*F, grad=True), uniform(*F)
    p = uniform(1, 256, 8192)
    c1, c2 = uniform(1, 2048, 65, 65), uniform(1, 2048, 65, 65)
    m1, m2 = uniform(2048, 2048), uniform(2048, 2048)
    run_cases("elementwise", [
        ("add [1,512,129,129]", lambda: torch.add(a, b)),
        ("relu fwd+bwd [1,512,129,129]", lambda: torch.autograd.grad(torch.relu(xg), xg, dy)),
        ("permute [1,256,8192]->[1,8192,256]", lambda: p.permute(0, 2, 1).contiguous()),
        ("cat 2x[1,2048,65,65] axis 1", lambda: torch.cat([c1, c2], 1)),
        ("matmul 2048x2048x2048", lambda: torch.matmul(m1, m2), 2 * 2048**3),
    ])


if __name__ == "__main__":
    main()
