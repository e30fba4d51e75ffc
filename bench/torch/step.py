"""PyTorch side of `ann-seg bench step`: one training step (forward, the official loss: OHEM
cross-entropy + 0.4 x aux, backward, SGD with momentum 0.9 and weight decay 5e-4) of the network
test/reference/ann_model.py builds from the same resolved config, on one fixed random batch;
median of the timed steps, and the RSS growth (as blocks.py). Prints one JSON line. Timing options
as blocks.py's, device and tf32 included (on "cuda" each step ends in torch.cuda.synchronize()).

Usage: /usr/bin/python3 bench/torch/step.py '<step case JSON as lib/cli/bench/step.ts makes it>' '<timing JSON>'
"""
import json
import os
import resource
import sys
import time

import torch

# First: ann_model imports test/reference's own common.py.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "reference"))
from ann_model import ANN, ann_loss  # noqa: E402


def rss_now():
    """As bench/torch/common.py's, which this script cannot import beside test/reference's common."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    c = json.loads(sys.argv[1])
    o = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    budget_s = o.get("budgetMs", 2000) / 1e3
    min_runs, max_runs = o.get("minRuns", 3), o.get("maxRuns", 20)
    torch.set_num_threads(int(os.environ.get("ANN_SEG_NUM_THREADS", 2)))
    torch.manual_seed(0)
    device = o.get("device", "cpu")
    cuda = device == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = bool(o.get("tf32", False))
        torch.backends.cudnn.allow_tf32 = bool(o.get("tf32", False))
    m = c["model"]
    net = ANN(depth=m["depth"], width=m["width"], num_classes=m["numClasses"], variant=m["variant"],
              key_channels=m["keyChannels"], value_channels=m["valueChannels"],
              context_channels=m["contextChannels"], sizes=tuple(m["sizes"]), sampling=m["sampling"],
              dropout=m["dropout"], aux_channels=m["auxChannels"], aux_dropout=m["auxDropout"]).train().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=c["lr"], momentum=0.9, weight_decay=5e-4)
    b, crop = c["batch"], c["crop"]
    h, w = (crop, crop) if isinstance(crop, int) else crop
    x = torch.randn(b, 3, h, w, device=device)
    y = torch.randint(0, m["numClasses"], (b, h, w), device=device)
    y[torch.rand(y.shape, device=device) < 0.1] = 255

    def step():
        loss = ann_loss(net(x), y, "ohem", c["ohemMinKept"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()

    rss_before = rss_now()
    step()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_runs or (time.perf_counter() - start < budget_s and len(samples) < max_runs):
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    print(json.dumps({
        "ms": samples[len(samples) // 2] * 1e3,
        "runs": len(samples),
        "rssBytes": max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before),
        "parameters": sum(p.numel() for p in net.parameters()),
        **({"device": torch.cuda.get_device_name(), "tf32": bool(o.get("tf32", False))} if cuda else {}),
    }))


if __name__ == "__main__":
    main()
