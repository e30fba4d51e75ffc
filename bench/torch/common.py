"""Timing helper for the PyTorch side of the kernel benchmarks (lib/cli/bench/kernels/*.ts): prints one
JSON line per case. bench/torch/run.py runs these scripts on both allocators and writes the JSON.
ANN_SEG_BENCH_DEVICE=cuda (run.py kernels --device cuda) puts every tensor on the GPU and ends each
timed run in torch.cuda.synchronize(); ANN_SEG_TF32=1 allows TF32 there, as ann-seg's switch."""
import json
import os
import sys
import time

import torch


def rss_now():
    """The resident set now (bytes)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


DEVICE = os.environ.get("ANN_SEG_BENCH_DEVICE", "cpu")
CUDA = DEVICE == "cuda"


def setup():
    torch.set_num_threads(int(os.environ.get("ANN_SEG_NUM_THREADS", os.cpu_count() or 1)))
    torch.manual_seed(0)
    if CUDA:
        tf32 = os.environ.get("ANN_SEG_TF32") == "1"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def sync():
    if CUDA:
        torch.cuda.synchronize()


QUICK = os.environ.get("ANN_SEG_BENCH_QUICK") == "1"  # one run after one warm-up: a smoke run


def bench(name, fn, budget_s=1.5, flops=None):
    if CUDA:
        run = fn

        def fn():
            run()
            sync()
    fn()
    if not QUICK:
        fn()
    samples = []
    start = time.perf_counter()
    min_runs, max_runs = (1, 1) if QUICK else (5, 200)
    while len(samples) < min_runs or (time.perf_counter() - start < budget_s and len(samples) < max_runs):
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


def uniform(*shape, grad=False):
    """uniform(-1, 1) float32 data (the kernel benches' randomTensor range)."""
    return (torch.rand(*shape, device=DEVICE) * 2 - 1).requires_grad_(grad)


def grad_run(fn, inputs, dy, backward=True):
    """A run() that computes fn() and, when backward, the gradients of inputs (a tensor or a tuple)
    under the upstream gradient dy (None for a scalar output)."""
    def run():
        with torch.set_grad_enabled(backward):
            y = fn()
            if backward:
                torch.autograd.grad(y, inputs, dy if y.dim() else None)

    return run


def run_cases(family, cases):
    """Times the cases that argv[1] selects (a substring of the name, or the family; all without it).

    Each case is a (name, run[, flops]) tuple, or a callable that makes one when reached, so that
    large inputs exist only while their case runs."""
    flt = sys.argv[1] if len(sys.argv) > 1 else None
    for case in cases:
        name, run, *flops = case() if callable(case) else case
        if flt and flt not in name and flt != family:
            continue
        bench(name, run, flops=flops[0] if flops else None)
