// Forward FLOPs of an ANN model at one input size (a multiply-add is 2), for the ablation tables.
// Counted: every convolution (from the output shapes of one real forward) and the attention
// products softmax(Q K^T) V, 2 * N * S * (Ck + Cv) per block (S = anchors, or N for NB/FNB). Not
// counted: BN, ReLU, pooling, softmax, bilinear upsampling, the loss (a few % at most).
import { noGrad } from '../autograd/tape.js';
import { tidy } from '../autograd/scope.js';
import type { ANNModel } from '../models/ann.js';
import * as nn from '../nn/index.js';
import { zeros } from '../tensor.js';

export function forwardFlops(model: ANNModel, height: number, width: number): number {
  let flops = 0;
  const restore: (() => void)[] = [];
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof nn.Conv2d)) continue;
    const conv = m;
    const forward = conv.forward;
    // Wraps this instance's forward for one pass: output elements x (Cin/groups * kh * kw) MACs.
    conv.forward = (x) => {
      const y = forward.call(conv, x);
      const [, , kh, kw] = conv.weight.shape;
      flops += 2 * y.size * conv.weight.shape[1] * kh * kw;
      return y;
    };
    restore.push(() => delete (conv as { forward?: unknown }).forward);
  }
  const wasTraining = model.training;
  model.eval();
  try {
    tidy(() => noGrad(() => model.forwardLogits(zeros([1, 3, height, width]))));
  } finally {
    restore.forEach((r) => r());
    model.train(wasTraining);
  }
  const h = Math.ceil(height / nn.OUTPUT_STRIDE);
  const w = Math.ceil(width / nn.OUTPUT_STRIDE);
  const n = h * w;
  for (const block of [model.fusion, model.contextBlock]) {
    if (!block || !('keyChannels' in block)) continue;
    const stage = (block as unknown as { stages: nn.ModuleList }).stages.at(0) as unknown as { sampler: { count: number } | null };
    const s = stage.sampler ? stage.sampler.count : n;
    flops += 2 * n * s * (block.keyChannels + block.valueChannels);
  }
  return flops;
}
