"""Kink margins: whether a gradient taken at some parameters is well defined in float32.

A ReLU's pre-activation within float32 noise of zero, or a max-pool window whose two largest
candidates are within that noise of each other, is routed by rounding: float32 may pass the
gradient where float64 blocks it, or send it to the rival. One such element moves a whole
network's gradient far beyond rounding (batch norm spreads it over its channel, and every weight
gradient above sums it in): on ann_model r18 (sweep seed 1) one layer4.0 ReLU input at 1.05e-6
was routed differently at the first step's parameters, and the loss after three steps was off by
1.5e-3 where PyTorch's float32 was off by 4e-7. No implementation can be held to float64's
routing there, so the fixture scripts refuse such points and redraw.

The noise of a tensor is PyTorch's own largest float32 error on it, over two float32 paths (mkldnn
on and off); a kink is near when its float64 margin is at most twice that (the parity rule's factor:
an implementation that meets the rule on the tensor may route it either way) and re-routing it would
move the gradient by more than PyTorch's float32 error on the kink's input gradient.
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

FACTOR = 2.0


def _record(net, dtype, params, run):
    """Runs run(net) (forward + backward) on a copy of net in dtype at params; returns what run
    returned, and per ReLU / MaxPool2d call (in call order) its input and the gradients of its
    input and output."""
    n = copy.deepcopy(net).to(dtype)
    with torch.no_grad():
        for k, p in n.named_parameters():
            p.copy_(params[k].to(dtype))
    calls = []

    def hook(name):
        def h(module, inputs, output):
            z = inputs[0]
            call = {"name": name, "module": module, "z": z.detach().clone()}
            if z.requires_grad:
                z.register_hook(lambda g: call.__setitem__("gz", g.detach().clone()))
            output.register_hook(lambda g: call.__setitem__("gy", g.detach().clone()))
            calls.append(call)
        return h

    handles = [m.register_forward_hook(hook(name)) for name, m in n.named_modules() if isinstance(m, (nn.ReLU, nn.MaxPool2d))]
    try:
        selection = run(n)
    finally:
        for h in handles:
            h.remove()
    return selection, calls


def _pool_windows(z, pool):
    """The max pool's windows as [B, C, out_h * out_w, k * k] (padding -inf, ceil_mode as PyTorch)."""
    k, s, p = pool.kernel_size, pool.stride, pool.padding
    oh, ow = F.max_pool2d(z, k, s, p, ceil_mode=pool.ceil_mode).shape[2:]
    b, c, h, w = z.shape
    pad_h = max(0, (oh - 1) * s + k - h - p)
    pad_w = max(0, (ow - 1) * s + k - w - p)
    zp = F.pad(z, (p, pad_w, p, pad_h), value=float("-inf"))
    win = zp.unfold(2, k, s).unfold(3, k, s)[:, :, :oh, :ow]
    return win.reshape(b, c, oh * ow, k * k)


def near_kinks(net, params, run):
    """The kinks near enough to be routed by rounding at params, where re-routing matters.

    run(net) does the forward and the backward of the loss whose gradient is checked, and returns None
    or the loss's discrete selection (values, threshold): OHEM keeps the pixels whose probability is
    below the threshold, so a value within noise of it (other than the one that sets it) is a kink too.
    Returns a list of "name: what" strings (empty when every kink keeps its margin)."""
    (sel, truth) = _record(net, torch.float64, params, run)
    paths = [_record(net, torch.float32, params, run)]
    torch.backends.mkldnn.enabled = False
    try:
        paths.append(_record(net, torch.float32, params, run))
    finally:
        torch.backends.mkldnn.enabled = True
    found = []
    if sel is not None:
        values, threshold = sel
        noise = max(float((p[0][0].double() - values).abs().max()) for p in paths)
        gap = (values - threshold).abs()
        near = (gap <= FACTOR * noise) & (gap > 0)
        if near.any():
            found.append(f"OHEM: {int(near.sum())} probabilities within {FACTOR * noise:.1e} of the threshold {threshold:.6f}")
    paths = [calls for _, calls in paths]
    for i, t in enumerate(truth):
        if "gy" not in t:
            continue  # no gradient flows through this call
        z = t["z"]
        noise = max(float((p[i]["z"].double() - z).abs().max()) for p in paths)
        gnoise = max(float((p[i]["gz"].double() - t["gz"]).abs().max()) for p in paths) if "gz" in t else 0.0
        if isinstance(t["module"], nn.ReLU):
            # Re-routing one element changes its input gradient by its output gradient.
            near = (z.abs() <= FACTOR * noise) & (t["gy"].abs() > gnoise)
            if near.any():
                found.append(f"{t['name']}: {int(near.sum())} ReLU inputs within {FACTOR * noise:.1e} of 0 "
                             f"(closest {float(z[near].abs().min()):.1e})")
        else:
            win = _pool_windows(z, t["module"])
            top2 = win.topk(2, dim=-1).values
            gap = top2[..., 0] - top2[..., 1]
            gy = t["gy"].reshape(gap.shape)
            # A window whose maximum is 0 after a ReLU sends its gradient to a ReLU that blocks it
            # either way (those ReLUs' margins are checked above).
            near = (gap <= FACTOR * noise) & (top2[..., 0] != 0) & (gy.abs() > gnoise)
            if near.any():
                found.append(f"{t['name']}: {int(near.sum())} max-pool windows with a rival within {FACTOR * noise:.1e}")
    return found
