"""A one-off check for a loaded machine, beside conv_small.ts: PyTorch's F.conv2d forward and its
backward (dx and dweight) at the same shapes, in CPU time of this process, min of `reps`:
  ANN_SEG_NUM_THREADS=1 /usr/bin/python3 bench/cpu-time/conv_small.py 30
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

# (Cin, Cout, size, dilation, calls per step), as conv_small.ts
SHAPES = [(128, 128, 9, 4, 2), (128, 128, 9, 2, 1), (64, 64, 9, 2, 2), (64, 128, 9, 2, 1), (128, 64, 9, 1, 1),
          (32, 32, 9, 1, 3), (16, 16, 17, 1, 3), (16, 16, 32, 1, 1)]


def cpu_ms(fn, reps):
    best = float("inf")
    for i in range(reps + 1):
        t0 = time.process_time()
        fn()
        t = (time.process_time() - t0) * 1000
        if i > 0:
            best = min(best, t)
    return best


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    torch.set_num_threads(int(os.environ.get("ANN_SEG_NUM_THREADS", 1)))
    fwd_sum = bwd_sum = 0.0
    for cin, cout, size, d, calls in SHAPES:
        x = torch.rand(8, cin, size, size, requires_grad=True)
        w = (torch.rand(cout, cin, 3, 3) / (cin * 9) ** 0.5).requires_grad_(True)
        dy = torch.rand(8, cout, size, size)
        with torch.no_grad():
            fwd = cpu_ms(lambda: F.conv2d(x, w, None, padding=d, dilation=d), reps)
        y = F.conv2d(x, w, None, padding=d, dilation=d)
        bwd = cpu_ms(lambda: torch.autograd.grad(y, (x, w), dy, retain_graph=True), reps)
        fwd_sum += calls * fwd
        bwd_sum += calls * bwd
        print(f"8x{cin}x{size}x{size}->{cout} d{d} x{calls}: {fwd:.2f} {bwd:.2f}")
    print(f"per step (weighted by calls): fwd {fwd_sum:.1f} bwd {bwd_sum:.1f} ms")


if __name__ == "__main__":
    main()
