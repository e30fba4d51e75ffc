"""PyTorch side of bench/kernels/loss.ts (same case names): softmax over channels, F.cross_entropy
and the official ANN OHEM loss (openseg's FSOhemCELoss), forward + logits gradient."""
import sys

import torch
import torch.nn.functional as F

from common import bench, setup

SHAPE = (2, 19, 769, 769)


def official_ohem(predict, target, thresh=0.7, min_kept=100000, ignore=255):
    prob_out = F.softmax(predict, dim=1)
    tmp_target = target.clone()
    tmp_target[tmp_target == ignore] = 0
    prob = prob_out.gather(1, tmp_target.unsqueeze(1))
    mask = target.contiguous().view(-1) != ignore
    sort_prob, sort_indices = prob.contiguous().view(-1)[mask].contiguous().sort()
    min_threshold = sort_prob[min(min_kept, sort_prob.numel() - 1)]
    threshold = max(min_threshold, thresh)
    loss_matrix = F.cross_entropy(predict, target, ignore_index=ignore, reduction="none").contiguous().view(-1)
    return loss_matrix[mask][sort_indices][sort_prob < threshold].mean()


def inputs(grad):
    x = ((torch.rand(*SHAPE) * 2 - 1) * 4).requires_grad_(grad)
    t = torch.randint(0, 19, (SHAPE[0],) + SHAPE[2:])
    t[torch.rand(t.shape) < 0.1] = 255
    return x, t


def case(name, grad, fn):
    x, t = inputs(grad)
    dy = torch.rand(*SHAPE) * 2 - 1

    def run():
        with torch.set_grad_enabled(grad):
            out = fn(x, t)
            if grad:
                torch.autograd.grad(out, x, dy if out.dim() else None)

    return name, run


def main():
    setup()
    flt = sys.argv[1] if len(sys.argv) > 1 else None
    cases = [
        lambda: case("softmax axis=1 fwd 2x19x769x769", False, lambda x, t: torch.softmax(x, 1)),
        lambda: case("softmax axis=1 fwd+bwd 2x19x769x769", True, lambda x, t: torch.softmax(x, 1)),
        lambda: case("crossEntropy ignore=255 fwd+bwd 2x19x769x769", True,
                     lambda x, t: F.cross_entropy(x, t, ignore_index=255)),
        lambda: case("ohemCrossEntropy fwd+bwd 2x19x769x769", True, official_ohem),
        lambda: case("argmax axis=1 2x19x769x769", False, lambda x, t: torch.argmax(x, 1)),
    ]
    for make in cases:
        name, run = make()
        if flt and flt not in name and flt != "loss":
            continue
        bench(name, run)


if __name__ == "__main__":
    main()
