"""PyTorch side of bench/kernels/attention.ts (same case names): bmm + softmax + bmm, with
autograd for the backward (q, k, v all need grads), at APNB's size and at S = N."""
import torch

from common import grad_run, run_cases, setup, uniform


def attention_case(name, N, S, C, Cv, backward):
    q = (uniform(1, N, C) * 2).requires_grad_(backward)
    k = (uniform(1, S, C) * 2).requires_grad_(backward)
    v = uniform(1, S, Cv, grad=backward)
    dout = uniform(1, N, Cv)
    scale = C ** -0.5

    def forward():
        return torch.bmm(torch.softmax(torch.bmm(q, k.transpose(1, 2)) * scale, dim=-1), v)

    return name, grad_run(forward, (q, k, v), dout, backward), (3 if backward else 1) * 2 * N * S * (C + Cv)


def main():
    setup()
    run_cases("attention", [
        lambda: attention_case("attention fwd+bwd N=32768 S=110 C=Cv=256", 32768, 110, 256, 256, True),
        lambda: attention_case("attention fwd N=32768 S=110 C=Cv=256", 32768, 110, 256, 256, False),
        lambda: attention_case("attention fwd+bwd N=S=4096 C=Cv=256", 4096, 4096, 256, 256, True),
        lambda: attention_case("attention fwd N=S=4096 C=Cv=256", 4096, 4096, 256, 256, False),
    ])


if __name__ == "__main__":
    main()
