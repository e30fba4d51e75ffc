"""nn.Module parity: a small tree of conv-bn-relu blocks, max pool, dropout, identity and one
submodule registered under two names (as the official APNB's f_key/f_query), with non-default
weights and running statistics.
-> test/fixtures/nn_state_dict.safetensors: its state_dict, saved by torch.save as a training
   checkpoint ({'state_dict': ...} with DataParallel's 'module.' prefix) and converted by
   convert_state_dict.py, the tool users run on real checkpoints;
-> test/fixtures/nn_state.safetensors: an input, the evaluation-mode output, and a training-mode
   forward/backward (dropout off): output, every parameter's gradient (the shared module's gets both
   uses), and the running statistics after it.
Run: /usr/bin/python3 test/reference/nn_state.py
"""
import copy
import json
import os
import tempfile

import torch
import torch.nn as nn

from common import FIXTURES, gen, manual_seed, put, put_buffers, randn, save
from convert_state_dict import convert


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()),
            nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2), nn.BatchNorm2d(8), nn.ReLU()),
            nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
            nn.Dropout2d(0.1),
            nn.Identity(),
        )
        self.f_key = nn.Sequential(nn.Conv2d(8, 4, 1), nn.Sequential(nn.BatchNorm2d(4), nn.ReLU()))
        self.f_query = self.f_key
        self.head = nn.Conv2d(4, 5, 1)

    def forward(self, x):
        f = self.features(x)
        return self.head(self.f_key(f) + self.f_query(f * 0.5))


def main():
    manual_seed(7)
    g = gen(7)
    net = Net()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
        net.train()
        for _ in range(3):  # non-default running statistics; the shared BN counts 6 batches
            net(randn((2, 3, 13, 11), g, 2.0) + 0.5)
    state = net.state_dict()
    assert "f_key.1.0.running_mean" in state and "f_query.1.0.running_mean" in state

    with tempfile.TemporaryDirectory() as tmp:
        wrapped = os.path.join(tmp, "checkpoint.pth")
        torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in state.items()}}, wrapped)
        converted = convert(wrapped, os.path.join(FIXTURES, "nn_state_dict.safetensors"))
        plain = os.path.join(tmp, "plain.pt")
        torch.save(state, plain)
        again = convert(plain, os.path.join(tmp, "plain.safetensors"))
    assert list(converted) == list(state) == list(again)
    assert all(torch.equal(converted[k], state[k]) for k in state)

    rec = {}
    x = randn((2, 3, 13, 11), g)
    rec["x"] = x
    n64, n32 = copy.deepcopy(net).double().eval(), copy.deepcopy(net).eval()
    with torch.no_grad():
        put(rec, "eval.y", n64(x.double()), n32(x))

    # Training mode with dropout off: batch statistics, running-stat updates, gradients.
    t64, t32 = copy.deepcopy(net).double().train(), copy.deepcopy(net).train()
    t64.features[3].eval()
    t32.features[3].eval()
    xt = randn((2, 3, 13, 11), g, 1.5)
    y64, y32 = t64(xt.double()), t32(xt)
    dy = randn(tuple(y32.shape), g)
    (y64 * dy.double()).sum().backward()
    (y32 * dy).sum().backward()
    rec["train.x"], rec["train.dy"] = xt, dy
    put(rec, "train.y", y64, y32)
    for (name, p64), (_, p32) in zip(t64.named_parameters(), t32.named_parameters()):
        put(rec, f"train.grad.{name}", p64.grad, p32.grad)
    put_buffers(rec, "train.after.", t64.state_dict(), t32.state_dict())
    meta = {
        "state_dict_keys": json.dumps(list(state)),
        "parameter_names": json.dumps([n for n, _ in net.named_parameters()]),
    }
    save("nn_state", rec, meta)


if __name__ == "__main__":
    main()
