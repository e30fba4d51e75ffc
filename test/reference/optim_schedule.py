"""SGD (momentum, weight decay, nesterov) under the poly schedule, with given gradients: the
parameters after every step, in float64 (truth) and float32. -> test/fixtures/optim_schedule.safetensors"""
import torch

from common import gen, put, randn, save

STEPS, MAX_ITERS, POWER = 6, 8, 0.9
CONFIGS = {
    "plain": dict(lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False),
    "momentum_wd": dict(lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=False),
    "nesterov": dict(lr=0.05, momentum=0.8, weight_decay=1e-3, nesterov=True),
}


def run(dtype, p0, grads, cfg):
    params = [p.detach().to(dtype).clone().requires_grad_(True) for p in p0]
    opt = torch.optim.SGD(params, **cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: (1 - min(it, MAX_ITERS) / MAX_ITERS) ** POWER)
    history, lrs = [], []
    for step in range(STEPS):
        for p, g in zip(params, grads[step]):
            p.grad = g.to(dtype).clone()
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        history.append([p.detach().clone() for p in params])
    return history, lrs


g = gen(7)
p0 = [randn([3, 4], g), randn([5], g)]
grads = [[randn([3, 4], g), randn([5], g)] for _ in range(STEPS)]
rec = {"p0.0": p0[0], "p0.1": p0[1]}
for s in range(STEPS):
    rec[f"grad.{s}.0"], rec[f"grad.{s}.1"] = grads[s]
for name, cfg in CONFIGS.items():
    h64, lrs = run(torch.float64, p0, grads, cfg)
    h32, _ = run(torch.float32, p0, grads, cfg)
    rec[f"{name}.lr"] = torch.tensor(lrs, dtype=torch.float64)
    for s in range(STEPS):
        for i in range(2):
            put(rec, f"{name}.step{s}.p{i}", h64[s][i], h32[s][i])
save("optim_schedule", rec, {"steps": STEPS, "max_iters": MAX_ITERS, "power": POWER, "configs": list(CONFIGS)})
