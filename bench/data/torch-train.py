"""PyTorch's side of the long-run training comparison (bench/data/torch-train-dump.ts writes ours):
the same small ANN (test/reference/ann_model.py), started from OUR initial state dict, trained on
exactly our loader's batches with the same recipe (SGD momentum 0.9, weight decay 5e-4 on every
parameter, poly lr power 0.9 stepped per iteration, OHEM main + 0.4 aux, BN in training mode,
dropout 0), then evaluated on the same validation scenes. Writes torch-<variant>-s<seed>.json beside
ours and prints both loss curves side by side when ours is there.
  env -u OPENBLAS_CORETYPE /usr/bin/python3 bench/data/torch-train.py --variant apnb [--iters 300]
      [--seed 1] [--lr 0.05] [--out /tmp/ann-torch-train]
"""
import argparse
import copy
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "reference"))
from ann_model import ANN, ann_loss  # noqa: E402
from common import load  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--variant", default="apnb")
p.add_argument("--iters", type=int, default=300)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--lr", type=float, default=0.05)
p.add_argument("--out", default="/tmp/ann-torch-train")
p.add_argument("--val", type=int, default=60)
p.add_argument("--check", default="", help="iterations recorded by the dumper's --check: compare one step there")
p.add_argument("--fold", default="auto", help="the dumper's --fold of the run to --check")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--ours", default=None, help="our result JSON to compare with (default: ours-<variant>-s<seed>-foldauto.json)")
a = p.parse_args()
torch.set_num_threads(a.threads)



def build(cfg):
    return ANN(depth=cfg["depth"], width=cfg["width"], num_classes=cfg["numClasses"], variant=cfg["variant"],
               key_channels=cfg["keyChannels"], value_channels=cfg["valueChannels"],
               context_channels=cfg["contextChannels"], aux_channels=cfg["auxChannels"], dropout=0.0, aux_dropout=0.0)


def load_into(net, state):
    own = net.state_dict()
    missing, unexpected = net.load_state_dict({k: v.to(own[k].dtype) if k in own else v for k, v in state.items()},
                                              strict=False)
    # APNB's f_query IS f_key (one module under two names): PyTorch lists it twice, we may list it once.
    missing = [k for k in missing if not (".f_query." in k and k.replace(".f_query.", ".f_key.") in state)]
    assert not missing and not unexpected, (missing, unexpected)


def worst(ours, theirs):
    """The largest max |ours - theirs| over the tensors of two {name: tensor}, each relative to the
    larger of its own max |theirs| and 1e-3 x the largest of all (a conv bias before a BN has an
    exactly zero gradient, which both sides round to noise), and where it is."""
    theirs = {k: v.double() for k, v in theirs.items() if v.is_floating_point()}
    top = max(float(v.abs().max()) for v in theirs.values())
    rel = {k: float((ours[k].double() - v).abs().max()) / max(float(v.abs().max()), 1e-3 * top) for k, v in theirs.items()}
    k = max(rel, key=rel.get)
    return rel[k], k


def sub(record, prefix):
    return {k[len(prefix):]: v for k, v in record.items() if k.startswith(prefix)}


state, meta = load(os.path.join(a.out, f"init-{a.variant}-s{a.seed}.safetensors"))
cfg = json.loads(meta["config"])
net = build(cfg)
load_into(net, state)

batches, _ = load(os.path.join(a.out, f"batches-s{a.seed}-n{a.iters}.safetensors"))
images, labels = batches["images"], batches["labels"].long()
val, _ = load(os.path.join(a.out, f"val-n{a.val}.safetensors"))

if a.check:
    # One step from our state at each recorded iteration, and the trained network's eval logits.
    tag = f"{a.variant}-s{a.seed}-fold{a.fold}"
    for it in map(int, a.check.split(",")):
        rec, m = load(os.path.join(a.out, f"step-{tag}-{it}.safetensors"))
        n = build(cfg)
        load_into(n, sub(rec, "before."))
        n.train()
        # The float64 truth at the same state: how far each float32 gradient is from it.
        n64 = copy.deepcopy(n).double()
        ann_loss(n64(images[it].double()), labels[it], "ohem", 100000).backward()
        g64 = {k: p_.grad for k, p_ in n64.named_parameters()}
        opt = torch.optim.SGD(n.parameters(), lr=float(m["lr"]), momentum=0.9, weight_decay=5e-4)
        mom = sub(rec, "momentum.")
        params = dict(n.named_parameters())
        for k, p_ in params.items():
            opt.state[p_]["momentum_buffer"] = mom[k].clone()
        loss = ann_loss(n(images[it]), labels[it], "ohem", 100000)
        opt.zero_grad()
        loss.backward()
        g_rel, g_at = worst(sub(rec, "grad."), {k: p_.grad for k, p_ in params.items()})
        o_rel, o_at = worst(sub(rec, "grad."), g64)
        t_rel, t_at = worst({k: p_.grad for k, p_ in params.items()}, g64)
        opt.step()
        after = {k: v for k, v in n.state_dict().items() if k in sub(rec, "after.")}
        s_rel, s_at = worst(sub(rec, "after."), after)
        stats = [k for k in after if "running" in k]
        b_rel, b_at = worst(sub(rec, "after."), {k: after[k] for k in stats})
        print(f"step {it}: loss ours {float(rec['loss']):.6f} torch {float(loss):.6f}; worst gradient {g_rel:.2e} ({g_at}); "
              f"against float64: ours {o_rel:.2e} ({o_at}), torch float32 {t_rel:.2e} ({t_at}); "
              f"state after {s_rel:.2e} ({s_at}); running stats {b_rel:.2e} ({b_at})")
    rec, _ = load(os.path.join(a.out, f"final-{tag}.safetensors"))
    n = build(cfg)
    load_into(n, sub(rec, "state."))
    n.eval()
    with torch.no_grad():
        aux, main = n.logits(val["images"][:10])
    for name, t in (("main", main), ("aux", aux)):
        o = rec[f"eval.{name}"]
        print(f"final eval logits {name}: max |ours - torch| {float((o - t).abs().max()):.2e} of max |torch| "
              f"{float(t.abs().max()):.2f}; argmax agrees on {100 * float((o.argmax(1) == t.argmax(1)).double().mean()):.3f}%")
    sys.exit(0)

opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: max(0.0, 1 - k / a.iters) ** 0.9)
net.train()
losses = []
t0 = time.time()
for it in range(a.iters):
    loss = ann_loss(net(images[it]), labels[it], "ohem", 100000)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    losses.append(float(loss))
    if (it + 1) % 50 == 0:
        print(f"torch {a.variant} s{a.seed} it {it + 1} loss {sum(losses[-50:]) / 50:.4f}", file=sys.stderr)
train_s = time.time() - t0

K = cfg["numClasses"]
conf = torch.zeros(K, K, dtype=torch.float64)
net.eval()
with torch.no_grad():
    for s in range(0, val["images"].shape[0], 10):
        pred = net(val["images"][s:s + 10])[1].argmax(1).flatten()
        y = val["labels"][s:s + 10].long().flatten()
        conf += torch.bincount(y * K + pred, minlength=K * K).reshape(K, K).double()
diag = conf.diag()
iou = (diag / (conf.sum(0) + conf.sum(1) - diag)).tolist()
res = {"side": "torch", "variant": a.variant, "seed": a.seed, "lr": a.lr, "iters": a.iters, "trainS": train_s,
       "losses": losses, "iou": iou, "miou": sum(iou) / K}
with open(os.path.join(a.out, f"torch-{a.variant}-s{a.seed}.json"), "w") as f:
    json.dump(res, f)
fmt = lambda r: f"mIoU {100 * r['miou']:.1f} IoU " + "/".join(f"{100 * v:.0f}" for v in r["iou"])  # noqa: E731
print(f"torch {a.variant} s{a.seed}: {fmt(res)} ({train_s:.0f} s)")

ours_path = a.ours or os.path.join(a.out, f"ours-{a.variant}-s{a.seed}-foldauto.json")
if os.path.exists(ours_path):
    with open(ours_path) as f:
        ours = json.load(f)
    print(f"ours  {a.variant} s{a.seed}: {fmt(ours)}")
    print("iters      ours     torch   (mean loss over each 25)")
    for s in range(0, a.iters, 25):
        o, t = ours["losses"][s:s + 25], losses[s:s + 25]
        print(f"{s + 1:4d}-{s + 25:<4d} {sum(o) / len(o):.4f}  {sum(t) / len(t):.4f}")
    print("first steps:", " ".join(f"{o:.5f}/{t:.5f}" for o, t in zip(ours["losses"][:5], losses[:5])))
