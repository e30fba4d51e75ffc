"""Timing helper for the PyTorch side of the kernel benchmarks: prints one JSON line per case."""
import json
import os
import sys
import time

import torch


def setup():
    torch.set_num_threads(int(os.environ.get("ANN_SEG_NUM_THREADS", os.cpu_count() or 1)))
    torch.manual_seed(0)


def bench(name, fn, budget_s=1.5, flops=None):
    fn()
    fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < 5 or (time.perf_counter() - start < budget_s and len(samples) < 200):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    ms = samples[len(samples) // 2] * 1e3
    out = {"name": name, "ms": ms}
    if flops:
        out["gflops"] = flops / (ms * 1e6)
    print(json.dumps(out))
    sys.stdout.flush()
