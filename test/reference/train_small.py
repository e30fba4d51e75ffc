"""A small conv-bn-relu network trained for 50 SGD steps with cross-entropy (ignore index 255):
its initial state dict, the data, and the loss at every step in float64 (truth) and float32.
-> test/fixtures/train_small.safetensors"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import gen, save

STEPS = 50
LR, MOMENTUM, WD = 0.05, 0.9, 5e-4


def build():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 4, 1),
    )


torch.manual_seed(3)
net32 = build()
state = {k: v.detach().clone() for k, v in net32.state_dict().items()}
g = gen(11)
batches = 4
xs = [torch.randn(2, 3, 9, 11, generator=g) for _ in range(batches)]
ys = [torch.randint(0, 4, (2, 9, 11), generator=g) for _ in range(batches)]
for y in ys:
    y[torch.rand(y.shape, generator=g) < 0.1] = 255


def train(dtype):
    net = build().to(dtype)
    net.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()})
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    losses = []
    for step in range(STEPS):
        x, y = xs[step % batches].to(dtype), ys[step % batches]
        loss = F.cross_entropy(net(x), y, ignore_index=255)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses), net.state_dict()


l64, s64 = train(torch.float64)
l32, s32 = train(torch.float32)
rec = {f"init.{k}": v for k, v in state.items()}
for i in range(batches):
    rec[f"x.{i}"] = xs[i]
    rec[f"y.{i}"] = ys[i].to(torch.int32)
rec["loss.f64"] = l64
rec["loss.f32"] = l32.float()
for k in s64:
    if s64[k].is_floating_point():
        rec[f"final.{k}.f64"] = s64[k].double()
        rec[f"final.{k}.f32"] = s32[k].float()
save("train_small", rec, {"steps": STEPS, "lr": LR, "momentum": MOMENTUM, "weight_decay": WD, "batches": batches})
print("loss first/last:", l64[0].item(), l64[-1].item())
