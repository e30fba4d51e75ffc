"""A one-off check for a loaded machine, beside step.ts: PyTorch's training step of the same
network (bench/torch/step.py's), in CPU time of this process, min of `reps`. Run as step.ts:
  CASE=$(node -e "...")  # or the "case" object of a `bench step --json` file
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4611686018427387904 \
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp ANN_SEG_NUM_THREADS=1 \
    /usr/bin/python3 bench/cpu-time/step.py STEP_JSON 15
where STEP_JSON is a `bench step --json` file (its first row's case is run).
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "reference"))
from ann_model import ANN, ann_loss  # noqa: E402


def main():
    c = json.load(open(sys.argv[1]))["rows"][0]["case"]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    torch.set_num_threads(int(os.environ.get("ANN_SEG_NUM_THREADS", 1)))
    torch.manual_seed(0)
    m = c["model"]
    net = ANN(depth=m["depth"], width=m["width"], num_classes=m["numClasses"], variant=m["variant"],
              key_channels=m["keyChannels"], value_channels=m["valueChannels"],
              context_channels=m["contextChannels"], sizes=tuple(m["sizes"]), sampling=m["sampling"],
              dropout=m["dropout"], aux_channels=m["auxChannels"], aux_dropout=m["auxDropout"]).train()
    opt = torch.optim.SGD(net.parameters(), lr=c["lr"], momentum=0.9, weight_decay=5e-4)
    b, crop = c["batch"], c["crop"]
    x = torch.randn(b, 3, crop, crop)
    y = torch.randint(0, m["numClasses"], (b, crop, crop))
    y[torch.rand(y.shape) < 0.1] = 255

    def step():
        loss = ann_loss(net(x), y, "ohem", c["ohemMinKept"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    cpu, wall = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"torch step: cpu {min(cpu) * 1e3:.1f} ms, wall {min(wall) * 1e3:.1f} ms (min of {reps})")


if __name__ == "__main__":
    main()
