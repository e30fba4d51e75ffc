"""PyTorch side of bench/kernels/loss.ts (same case names): softmax over channels, F.cross_entropy
and the official ANN OHEM loss (openseg's FSOhemCELoss), forward + logits gradient."""
import importlib.util
import os

import torch
import torch.nn.functional as F

from common import DEVICE, grad_run, run_cases, setup, uniform

SHAPE = (2, 19, 769, 769)

# The official loss is defined once, with the fixtures; loaded by path because that folder's module
# is also named `common`.
_REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "reference", "common.py")
_spec = importlib.util.spec_from_file_location("reference_common", _REFERENCE)
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)


def case(name, grad, fn):
    x = (uniform(*SHAPE) * 4).requires_grad_(grad)
    t = torch.randint(0, 19, (SHAPE[0],) + SHAPE[2:], device=DEVICE)
    t[torch.rand(t.shape, device=DEVICE) < 0.1] = 255
    dy = uniform(*SHAPE)
    return name, grad_run(lambda: fn(x, t), x, dy, grad)


def main():
    setup()
    run_cases("loss", [
        lambda: case("softmax axis=1 fwd 2x19x769x769", False, lambda x, t: torch.softmax(x, 1)),
        lambda: case("softmax axis=1 fwd+bwd 2x19x769x769", True, lambda x, t: torch.softmax(x, 1)),
        lambda: case("crossEntropy ignore=255 fwd+bwd 2x19x769x769", True,
                     lambda x, t: F.cross_entropy(x, t, ignore_index=255)),
        lambda: case("ohemCrossEntropy fwd+bwd 2x19x769x769", True, lambda x, t: reference.official_ohem(x, t)[0]),
        lambda: case("argmax axis=1 2x19x769x769", False, lambda x, t: torch.argmax(x, 1)),
    ])


if __name__ == "__main__":
    main()
