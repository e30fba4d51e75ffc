"""PyTorch's side of bench/cpu-time/attention.ts (bench/torch/attention.py's bmm + softmax + bmm), forward
and backward timed apart in process CPU time (min of reps). Run single-threaded, freed memory reused:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4611686018427387904 \
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/cpu-time/attention.py 32768 110 256 7
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
from common import uniform  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)
N, S, C, reps = map(int, sys.argv[1:5])
q = (uniform(1, N, C) * 2).requires_grad_(True)
k = (uniform(1, S, C) * 2).requires_grad_(True)
v = uniform(1, S, C, grad=True)
dout = uniform(1, N, C)
fwd, bwd = [], []
for _ in range(reps):
    c0 = time.process_time()
    y = torch.bmm(torch.softmax(torch.bmm(q, k.transpose(1, 2)) * C ** -0.5, dim=-1), v)
    c1 = time.process_time()
    torch.autograd.grad(y, (q, k, v), dout)
    bwd.append(time.process_time() - c1)
    fwd.append(c1 - c0)
    del y
print(f"torch N={N} S={S} fwd cpu {min(fwd) * 1e3:.1f} | bwd cpu {min(bwd) * 1e3:.1f} ms")
