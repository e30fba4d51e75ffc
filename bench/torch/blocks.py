"""PyTorch side of `ann-seg bench blocks` (the paper's Table 1): times one block case with the reference
modules of test/reference/ann_ref_blocks.py and prints one JSON line.

Usage (bench/torch/run.py runs it once per case and allocator, each in a fresh process):
    /usr/bin/python3 bench/torch/blocks.py '<case JSON as lib/cli/bench/blocks-cases.ts makes it>' [options JSON]

Options: budgetMs, minRuns, maxRuns; device ("cpu" or "cuda": then the block, its inputs and the
timing are on the GPU, each run ending in torch.cuda.synchronize(), and memory is the peak of
torch.cuda.max_memory_allocated above what was allocated before the first run); tf32 (true:
TF32 matmuls and convolutions on the GPU, as ann-seg's ANN_SEG_TF32=1).

Memory on the CPU: the peak resident set (getrusage ru_maxrss) after the runs minus the RSS just before the
first run (/proc/self/statm), so inputs and parameters are not counted; it includes whatever the
allocator and OpenBLAS/oneDNN keep. ru_maxrss is a high-water mark since the process started,
hence one process per case.
"""
import json
import os
import resource
import sys
import time

import torch

# Appended: this folder's common.py comes before test/reference's.
sys.path.append(os.path.join(os.path.dirname(__file__), "..", "..", "test", "reference"))
from ann_ref_blocks import AFNB, APNB, FusionNonLocal, NonLocal  # noqa: E402
from common import rss_now  # noqa: E402


def make_block(c):
    common = (c["outChannels"], c["keyChannels"], c["valueChannels"])
    if c["kind"] == "NB":
        return NonLocal(c["lowChannels"], *common)
    if c["kind"] == "APNB":
        return APNB(c["lowChannels"], *common)
    if c["kind"] == "FNB":
        return FusionNonLocal(c["lowChannels"], c["highChannels"], *common)
    return AFNB(c["lowChannels"], c["highChannels"], *common)


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
    train = c["mode"] == "fwd+bwd"
    block = make_block(c).train(train).to(device)
    shape = lambda ch: (1, ch, c["height"], c["width"])  # noqa: E731
    x = torch.randn(*shape(c["lowChannels"]), device=device).requires_grad_(train)
    self_attn = c["kind"] in ("NB", "APNB")
    high = None if self_attn else torch.randn(*shape(c["highChannels"]), device=device).requires_grad_(train)
    dy = torch.randn(*shape(c["outChannels"]), device=device) if train else None
    inputs = [t for t in (x, high) if t is not None]

    def forward():
        return block(x) if self_attn else block(x, high)

    def run():
        if not train:
            with torch.no_grad():
                forward()
            return
        forward().backward(dy)
        block.zero_grad(set_to_none=True)
        for t in inputs:
            t.grad = None

    def timed_run():
        run()
        if cuda:
            torch.cuda.synchronize()

    rss_before = rss_now()
    if cuda:
        torch.cuda.synchronize()
        gpu_before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    timed_run()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_runs or (time.perf_counter() - start < budget_s and len(samples) < max_runs):
        t0 = time.perf_counter()
        timed_run()
        samples.append(time.perf_counter() - t0)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    samples.sort()
    out = {
        "name": f"{c['kind']} {c['mode']} {c['height']}x{c['width']}",
        "ms": samples[len(samples) // 2] * 1e3,
        "runs": len(samples),
        "rssBytes": max(0, rss_peak - rss_before),
    }
    if cuda:
        out["device"] = torch.cuda.get_device_name()
        out["tf32"] = bool(o.get("tf32", False))
        out["gpuPeakBytes"] = max(0, torch.cuda.max_memory_allocated() - gpu_before)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
