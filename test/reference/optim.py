"""Fixtures for sgdStep: torch.optim.SGD over several steps for every valid option combination,
run in float64 (the truth) and float32 from the same float32 start and gradients.
Run: /usr/bin/python3 test/reference/optim.py
"""
import json

import torch

from common import gen, put, save

g = gen(77)
STEPS = 4
N = 37
rec = {}
cases = []
combos = []
for momentum in (0.0, 0.9):
    for dampening in (0.0, 0.1):
        for weight_decay in (0.0, 0.01):
            for nesterov in (False, True):
                if nesterov and (momentum == 0 or dampening != 0):
                    continue
                if momentum == 0 and dampening != 0 and weight_decay == 0:
                    continue  # dampening without momentum changes nothing; one such case is enough
                combos.append((momentum, dampening, weight_decay, nesterov))

for i, (momentum, dampening, weight_decay, nesterov) in enumerate(combos):
    lr = 0.1 if i % 2 == 0 else 0.03
    p0 = torch.randn(N, generator=g).float()
    grads = torch.randn(STEPS, N, generator=g).float() * 2
    k = f"sgd{i}"
    rec[k + ".param"] = p0
    rec[k + ".grads"] = grads
    results = {}
    for dtype in (torch.float64, torch.float32):
        p = torch.nn.Parameter(p0.to(dtype).clone())
        opt = torch.optim.SGD([p], lr=lr, momentum=momentum, dampening=dampening,
                              weight_decay=weight_decay, nesterov=nesterov)
        out = []
        for s in range(STEPS):
            p.grad = grads[s].to(dtype).clone()
            opt.step()
            out.append(p.detach().clone())
        buf = opt.state[p].get("momentum_buffer")
        results[dtype] = (torch.stack(out), buf)
    (p64, b64), (p32, b32) = results[torch.float64], results[torch.float32]
    for s in range(STEPS):
        put(rec, f"{k}.step{s}", p64[s], p32[s])
    if b64 is not None:
        put(rec, k + ".buf", b64, b32)
    cases.append({"key": k, "lr": lr, "momentum": momentum, "dampening": dampening,
                  "weightDecay": weight_decay, "nesterov": nesterov, "steps": STEPS})

save("optim", rec, metadata={"cases": json.dumps(cases)})
