"""The full ANN network (MendelXu/ANN's asymmetric_non_local_network) in PyTorch, from
ANN-SEMANTICS.md, with the official module names; built from the backbone and block references
(ann_ref_backbone.py, ann_ref_blocks.py) and importable: `ANN(depth=..., variant=...)`.

Fixtures (small configurations; the official network is depth 101, width 1, 19 classes):
  ann_model_r18.safetensors, ann_model_r50.safetensors
    state.<key>       the state dict (official names): random non-zero weights everywhere (W too),
                      running statistics from training-mode passes over other data
    x [1,3,65,97], y  labels (uint8) with ignored pixels (255)
    eval.*            logits before upsampling (aux.low, main.low) and the first 9 rows of the
                      upsampled ones (aux.top, main.top: one full interpolation cell of align_corners
                      at stride 8; the whole upsampled logits would not fit in the size budget, and
                      the losses and gradients below are computed from all of them), the blocks'
                      traces (query, key, value, context, out; weights for batch item 0)
    train.*           training-mode forward: logits, the blocks' pooled key/value and out, BN running
                      statistics after it, and the losses: ohem (threshold from the sorted
                      probabilities: min_kept large), ohem_thresh (threshold 0.7: min_kept small),
                      ce (plain cross-entropy on main), each + 0.4 x aux cross-entropy; and
                      ohem_weighted (the ohem case with class_weight in both terms)
  ann_model_r18_grads.safetensors, ann_model_r50_grads.safetensors
    grad.<name>       every parameter's gradient of the `ohem` loss
    grad.<name>.f32alt the same gradient on PyTorch's other float32 CPU path (mkldnn off): each of
                      these few-element, deep gradients is a single noisy sample of PyTorch's float32
                      error, so the yardstick is the larger of its two paths' errors (parity.ts)
    grad.<name>.scale  its rounding scale (common.grad_scales): a one-element error is judged against it
    sgd.loss [steps]  the `ohem` loss after each SGD step (momentum 0.9, wd 5e-4): r18 three steps at
                      lr 0.01; r50 one step at lr 0.001, so that the check allows below 1e-4 relative
Dropout: the fixture networks use p = 0 (config dropout = auxDropout = 0 on our side), so training
mode is deterministic in both; the dropout layers stay in place, so the structure is the official one.
Conditioning (a refused seed is redrawn, up to TRIES): every evaluation of an OHEM loss has no
probability within 1e-4 of its threshold, and at every point where a gradient is taken (the first
step's parameters and each later SGD step's, on the float64 path) no ReLU input, max-pool rival or
OHEM probability is within twice PyTorch's float32 noise of its kink where re-routing it would move
the gradient (kinks.py), and no float32 parameter gradient of PyTorch's is more than 1e-4 of its
rounding scale off the truth (a crossed kink the margins missed). Without that, one such element
sent the float32 SGD path elsewhere: the loss after three steps off by up to 7e-3 while every
first-step gradient passed.
Run: /usr/bin/python3 test/reference/ann_model.py
"""
import copy
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from ann_ref_backbone import BasicBlock, Bottleneck, DilatedResNet
from ann_ref_blocks import AFNB, APNB, CommonFusion, FusionNonLocal, NonLocal, bn_relu
from common import gen, grad_scales, manual_seed, put, save
from kinks import near_kinks

# variant -> (fusion, context): the rows of the paper's Table 6, as lib/models/config.ts.
VARIANTS = {
    "baseline": (None, None), "nb": (None, "nb"), "apnb": (None, "apnb"),
    "common-fusion": ("common", None), "fnb": ("fnb", None), "afnb": ("afnb", None),
    "common-fusion+nb": ("common", "nb"), "fnb+nb": ("fnb", "nb"), "full": ("afnb", "apnb"),
}


class ANN(nn.Module):
    def __init__(self, depth=101, width=1.0, num_classes=19, variant="full", key_channels=256, value_channels=256,
                 context_channels=512, sizes=(1, 3, 6, 8), sampling="pyramid-avg", dropout=0.05, aux_channels=512,
                 aux_dropout=0.05):
        super().__init__()
        fusion, context = VARIANTS[variant]
        self.backbone = DilatedResNet(depth, width)
        low, high = self.backbone.stage4_channels, self.backbone.stage5_channels
        kv = dict(key_channels=key_channels, value_channels=value_channels, dropout=dropout)
        if fusion == "afnb":
            self.fusion = AFNB(low, high, high, sizes=sizes, sampling=sampling, **kv)
        elif fusion == "fnb":
            self.fusion = FusionNonLocal(low, high, high, **kv)
        elif fusion == "common":
            self.fusion = CommonFusion(low, high)
        else:
            self.fusion = None
        ctx = context_channels
        parts = [nn.Conv2d(high, ctx, 3, padding=1), bn_relu(ctx)]
        if context == "apnb":
            parts.append(APNB(ctx, ctx, sizes=sizes, sampling=sampling, **kv))
        elif context == "nb":
            parts.append(NonLocal(ctx, ctx, **kv))
        self.context = nn.Sequential(*parts)
        self.cls = nn.Conv2d(ctx, num_classes, 1)
        self.dsn = nn.Sequential(
            nn.Conv2d(low, aux_channels, 3, padding=1), bn_relu(aux_channels), nn.Dropout2d(aux_dropout),
            nn.Conv2d(aux_channels, num_classes, 1),
        )

    def logits(self, x, traces=None):
        """(aux, main) before upsampling; traces: {'fusion': {}, 'context': {}} to fill."""
        traces = traces or {}
        stage4, stage5 = self.backbone(x)
        aux = self.dsn(stage4)
        if isinstance(self.fusion, (AFNB, FusionNonLocal)):
            x = self.fusion(stage4, stage5, trace=traces.get("fusion"))
        elif self.fusion is not None:
            x = self.fusion(stage4, stage5)
        else:
            x = stage5
        x = self.context[1](self.context[0](x))
        if len(self.context) > 2:
            x = self.context[2](x, trace=traces.get("context"))
        return aux, self.cls(x)

    def forward(self, x, traces=None):
        aux, main = self.logits(x, traces)
        size = (x.size(2), x.size(3))
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=True)  # noqa: E731
        return up(aux), up(main)


def ohem(logits, target, thresh=0.7, min_kept=100000, ignore=255, weight=None):
    """openseg's FSOhemCELoss (the official main loss). Returns (loss, threshold, sorted probabilities)."""
    prob = F.softmax(logits, 1)
    t = target.clone()
    t[t == ignore] = 0
    prob = prob.gather(1, t.unsqueeze(1)).view(-1)
    mask = target.view(-1) != ignore
    sort_prob, sort_idx = prob[mask].sort()
    threshold = max(float(sort_prob[min(min_kept, sort_prob.numel() - 1)]), thresh)
    loss = F.cross_entropy(logits, target, weight, ignore_index=ignore, reduction="none").view(-1)[mask][sort_idx]
    return loss[sort_prob < threshold].mean(), threshold, sort_prob.detach()


def ann_loss(out, target, kind, min_kept, weight=None):
    aux, main = out
    if weight is not None:
        weight = weight.to(main.dtype)
    if kind == "ce":
        m = F.cross_entropy(main, target, weight, ignore_index=255)
    else:
        m = ohem(main, target, min_kept=min_kept, weight=weight)[0]
    return m + 0.4 * F.cross_entropy(aux, target, weight, ignore_index=255)


class TooClose(Exception):
    pass


def pick_min_kept(p, tag):
    """A min_kept whose sorted probability is above 0.7 and 1e-4 away from both neighbours."""
    above = (p > 0.7).nonzero().flatten().tolist()
    gaps = [k for k in above[1:-1] if p[k] - p[k - 1] > 1e-4 and p[k + 1] - p[k] > 1e-4]
    if not gaps:
        raise TooClose(f"{tag}: no isolated probability above 0.7 ({len(above)} above)")
    return gaps[len(gaps) // 2]


def check_margin(main, target, min_kept, what):
    _, threshold, p = ohem(main.double(), target, min_kept=min_kept)
    gap = (p - threshold).abs()
    # The k-th probability sets the threshold; only the others must keep their distance from it.
    near = int((gap < 1e-4).sum()) - (1 if threshold > 0.7 else 0)
    if near:
        raise TooClose(f"{what}: {near} probabilities within 1e-4 of the threshold {threshold}")
    return threshold


def check_kinks(net, params, x, y, min_kept, what):
    """Refuses parameters at which the `ohem` loss's gradient is routed by rounding (kinks.py)."""
    def run(n):
        n.train()
        out = n(x.to(next(n.parameters()).dtype))
        ann_loss(out, y, "ohem", min_kept).backward()
        threshold = ohem(out[1].detach(), y, min_kept=min_kept)[1]
        prob = F.softmax(out[1].detach(), 1).gather(1, y.masked_fill(y == 255, 0).unsqueeze(1)).flatten()
        return prob[y.flatten() != 255], threshold
    near = near_kinks(net, {k: p.detach() for k, p in params.items()}, run)
    if near:
        raise TooClose(f"{what}: " + "; ".join(near))


def randomise(net, g):
    """Non-zero weights everywhere (W included), BN affine parameters away from 1 and 0."""
    with torch.no_grad():
        for name, m in net.named_modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        # Confident classifiers, so that some target probabilities pass OHEM's 0.7.
        for conv in (net.cls, net.dsn[3]):
            conv.weight.mul_(CLS_SCALE)
        for m in net.backbone.modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                (m.bn3 if isinstance(m, Bottleneck) else m.bn2).weight.mul_(RESIDUAL_SCALE)


def set_running_stats(net, g, shape):
    """Running statistics from two training passes over other data (momentum 0.5), then a count."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 0.5
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(shape, generator=g) * 50 + 10)
    for m in bns:
        m.momentum = 0.1
        m.num_batches_tracked.fill_(7)


def make_labels(net, x, g, num_classes):
    """Half the pixels take the network's own prediction (so p > 0.7 happens), the rest random; 10% ignored."""
    with torch.no_grad():
        pred = copy.deepcopy(net).double().eval()(x.double())[1].argmax(1)
    y = torch.randint(0, num_classes, pred.shape, generator=g)
    own = torch.rand(pred.shape, generator=g) < 0.5
    y[own] = pred[own]
    y[torch.rand(pred.shape, generator=g) < 0.1] = 255
    return y


CLS_SCALE = 1.5
# Every residual branch's last BN scale, times this (so 0.075-0.125): each block stays near the
# identity, as in zero-init-residual practice. At full scale these 2-20 channel random networks are
# chaotic: rounding grew ~1.3x per block, to 4e-4 in r50's layer4 (1e-5 at this scale), so hundreds of
# ReLU inputs sat within float32 noise of their kink and no seed kept its margins (kinks.py).
RESIDUAL_SCALE = 0.1
# Seeds tried per fixture: most are refused (an OHEM threshold or a kink too close somewhere on the SGD path).
TRIES = 400
# One image: the kinks near float32 noise grow with the number of activations, and with two images
# too few seeds (about 1 in 50 for r18) kept every margin along the SGD path.
INPUT = (1, 3, 65, 97)
CLASS_WEIGHT = torch.tensor([0.8, 1.2, 1.0, 0.9, 1.1])
TRACE_KEYS = ("query", "key", "value", "context", "out")


def alt_grads(net, x, y, min_kept):
    """Every parameter's gradient of the `ohem` loss on PyTorch's other float32 CPU path (mkldnn off),
    after the same two training forwards as the fixture's float32 network."""
    torch.backends.mkldnn.enabled = False
    try:
        net.train()
        net.logits(x)
        loss = ann_loss(net(x), y, "ohem", min_kept)
        loss.backward()
    finally:
        torch.backends.mkldnn.enabled = True
    return {k: p.grad.clone() for k, p in net.named_parameters()}


def fixture(tag, depth, width, seed, top, weights, skip, steps, lr):
    cfg = dict(depth=depth, width=width, num_classes=5, variant="full", key_channels=4, value_channels=6,
               context_channels=8, sizes=(1, 3, 6, 8), aux_channels=8)
    manual_seed(seed)
    g = gen(seed)
    net = ANN(**cfg, dropout=0.0, aux_dropout=0.0)
    randomise(net, g)
    set_running_stats(net, g, INPUT)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    x = (torch.randn(INPUT, generator=g) * 50 + 10).float()
    y = make_labels(net, x, g, 5)
    n_valid = int((y != 255).sum())

    rec = {f"state.{k}": v for k, v in state.items()}
    rec["x"], rec["y"] = x, y.to(torch.uint8)
    grads = {}

    # Evaluation: logits, upsampled rows and the blocks' traces.
    nets = {dt: copy.deepcopy(net).to(dt) for dt in (torch.float64, torch.float32)}
    outs = {}
    for dt, n in nets.items():
        n.eval()
        tr = {"fusion": {}, "context": {}}
        with torch.no_grad():
            low = n.logits(x.to(dt), tr)
            up = n(x.to(dt))
        outs[dt] = (low, up, tr)
    (l64, u64, t64), (l32, u32, t32) = outs[torch.float64], outs[torch.float32]
    for i, name in enumerate(("aux", "main")):
        put(rec, f"eval.{name}.low", l64[i], l32[i])
        if name in top:
            put(rec, f"eval.{name}.top", u64[i][:1, :, :9], u32[i][:1, :, :9])
    for block in ("fusion", "context"):
        for k in TRACE_KEYS:
            if (block, k) not in skip:
                put(rec, f"eval.{block}.{k}", t64[block][k], t32[block][k])
        if block in weights:
            put(rec, f"eval.{block}.weights0", t64[block]["weights"][0], t32[block]["weights"][0])

    alt_net = copy.deepcopy(nets[torch.float32])
    # Training mode: one forward, three losses, the gradients of the OHEM one, the SGD steps.
    # The OHEM case sets min_kept so the threshold is the sorted probability 20 places from the top.
    res = {}
    for dt, n in nets.items():
        n.train()
        tr = {"fusion": {}, "context": {}}
        low = n.logits(x.to(dt), tr)
        out = n(x.to(dt))  # a second training pass: running statistics move twice, as ours will
        res[dt] = (low, out, tr, n)
    (low64, out64, tr64, n64), (low32, out32, tr32, n32) = res[torch.float64], res[torch.float32]
    p_sorted = ohem(out64[1].detach(), y)[2]
    min_kept = pick_min_kept(p_sorted, tag)
    print(f"  {tag}: {int((p_sorted > 0.7).sum())} of {n_valid} above 0.7, min_kept {min_kept}")
    t_sorted = check_margin(out64[1].detach(), y, min_kept, f"{tag} ohem")
    t_fixed = check_margin(out64[1].detach(), y, 100, f"{tag} ohem_thresh")
    assert t_sorted > 0.7 and t_fixed == 0.7, (t_sorted, t_fixed)
    kinks_checked = [1]  # the SGD steps whose gradient was taken where every kink keeps its margin
    check_kinks(net, dict(net.named_parameters()), x, y, min_kept, f"{tag} first step")
    kept_fixed = int((p_sorted < 0.7).sum())
    assert 0 < kept_fixed < n_valid, kept_fixed
    for i, name in enumerate(("aux", "main")):
        put(rec, f"train.{name}.low", low64[i], low32[i])
    for block in ("fusion", "context"):
        for k in ("key", "value"):
            put(rec, f"train.{block}.{k}", tr64[block][k], tr32[block][k])
    for k, v in n32.state_dict().items():
        if "running" in k:
            # Copies: put() keeps a reference, and the SGD steps below move these buffers in place.
            put(rec, f"train.after.{k}", n64.state_dict()[k].clone(), v.clone())
        elif k.endswith("num_batches_tracked"):
            rec[f"train.after.{k}"] = v.to(torch.int32)
    for kind, mk in (("ohem_thresh", 100), ("ce", min_kept)):
        put(rec, f"train.loss.{kind}", ann_loss(out64, y, kind, mk).detach(), ann_loss(out32, y, kind, mk).detach())
    # Class weights in both terms (OHEM: w[y] * nll averaged over the kept pixels; aux: weighted mean).
    rec["class_weight"] = CLASS_WEIGHT
    put(rec, "train.loss.ohem_weighted", ann_loss(out64, y, "ohem", min_kept, CLASS_WEIGHT).detach(),
        ann_loss(out32, y, "ohem", min_kept, CLASS_WEIGHT).detach())

    losses = {}
    for dt, n in ((torch.float64, n64), (torch.float32, n32)):
        out = out64 if dt == torch.float64 else out32
        opt = torch.optim.SGD(n.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
        loss = ann_loss(out, y, "ohem", min_kept)
        losses[dt] = [loss.detach()]
        opt.zero_grad()
        loss.backward()
        if dt == torch.float64:
            g64 = {k: p.grad.clone() for k, p in n.named_parameters()}
        else:
            g32 = {k: p.grad.clone() for k, p in n.named_parameters()}
        opt.step()
        for step in range(steps):
            out = n(x.to(dt))
            if dt == torch.float64:
                check_margin(out[1].detach(), y, min_kept, f"{tag} sgd step {step + 1}")
            loss = ann_loss(out, y, "ohem", min_kept)
            losses[dt].append(loss.detach())
            if step < steps - 1:
                if dt == torch.float64:
                    check_kinks(net, dict(n.named_parameters()), x, y, min_kept, f"{tag} sgd step {step + 2}")
                    kinks_checked.append(step + 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
    put(rec, "train.loss.ohem", losses[torch.float64][0], losses[torch.float32][0])
    galt = alt_grads(alt_net, x, y, min_kept)
    scales = grad_scales(net, lambda m: ann_loss(m(x.double()), y, "ohem", min_kept))
    for k in g32:
        # Rounding leaves PyTorch's float32 gradients about 1e-6 of their scale off the truth; far more
        # means a kink its float32 forward crossed (both paths alike), and the rule, which allows twice
        # that error, could then not fail on the tensor. Chosen on PyTorch's results alone.
        err = max((g32[k].double() - g64[k]).abs().max().item(), (galt[k].double() - g64[k]).abs().max().item())
        if err > 1e-4 * scales[f"grad.{k}"].max().item():
            raise TooClose(f"PyTorch's float32 gradient of {k} is {err:.2e} off, beyond rounding")
        put(grads, f"grad.{k}", g64[k], g32[k])
        grads[f"grad.{k}.f32alt"] = galt[k].float()
        grads[f"grad.{k}.scale"] = scales[f"grad.{k}"]
    put(grads, "sgd.loss", torch.stack(losses[torch.float64][1:]), torch.stack(losses[torch.float32][1:]))

    meta = {
        "config": json.dumps({"depth": depth, "width": width, "numClasses": 5, "variant": "full", "keyChannels": 4,
                              "valueChannels": 6, "contextChannels": 8, "sizes": [1, 3, 6, 8],
                              "sampling": "pyramid-avg", "dropout": 0, "auxChannels": 8, "auxDropout": 0}),
        "parameter_names": json.dumps([k for k, _ in net.named_parameters()]),
        "min_kept": min_kept, "min_kept_thresh": 100, "lr": lr, "sgd_steps": steps, "momentum": 0.9, "weight_decay": 5e-4,
        "threshold_sorted": t_sorted, "kept_thresh": kept_fixed, "valid": n_valid,
        "kink_margins_kept": json.dumps(kinks_checked),
    }
    save(f"ann_model_{tag}", rec, meta)
    save(f"ann_model_{tag}_grads", grads, {"parameter_names": meta["parameter_names"]})
    print(f"{tag}: {sum(p.numel() for p in net.parameters())} parameters, loss {float(losses[torch.float64][0]):.5f}, "
          f"threshold {t_sorted:.5f}, 0.7 keeps {kept_fixed}/{n_valid}")


def first_fitting(tag, depth, width, seed, top, weights, skip=(), steps=3, lr=0.01):
    """The first seed from `seed` on whose every OHEM evaluation keeps its distance from the threshold."""
    for s in range(seed, seed + 100 * TRIES, 100):
        try:
            return fixture(tag, depth, width, s, top, weights, skip, steps, lr)
        except TooClose as e:
            print(f"seed {s}: {e}; next seed")
    raise RuntimeError(f"{tag}: no seed fits")


if __name__ == "__main__":
    # Parts of the checks go to one fixture each, to keep each file under 1 MB.
    first_fitting("r18", 18, 0.0625, 41, top=("main",), weights=("context",))
    first_fitting("r50", 50, 0.04, 42, top=("aux",), weights=("fusion",), skip=(("fusion", "out"),), steps=1, lr=0.001)
