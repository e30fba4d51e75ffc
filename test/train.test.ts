// A small conv-bn-relu network trained with SGD for 50 steps gives PyTorch's loss trajectory, and a
// training step runs in constant memory.
import { describe, expect, it } from 'vitest';

import { tidy } from '../lib/autograd/scope.js';
import { native } from '../lib/native/index.js';
import * as nn from '../lib/nn/index.js';
import * as F from '../lib/ops/index.js';
import { SGD } from '../lib/optim/index.js';
import { Tensor } from '../lib/tensor.js';
import { checkParity, Fixture } from './helpers/parity.js';

const fx = new Fixture('train_small');
const STEPS = Number(fx.metadata.steps);
const BATCHES = Number(fx.metadata.batches);

function build(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1 }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.Conv2d({ inChannels: 8, outChannels: 8, kernelSize: 3, padding: 2, dilation: 2 }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.Conv2d({ inChannels: 8, outChannels: 4, kernelSize: 1 }),
  );
}

function loadInit(net: nn.Sequential): void {
  const init: Record<string, Tensor> = {};
  for (const key of fx.tensors.keys()) if (key.startsWith('init.')) init[key.slice(5)] = new Tensor(fx.input(key));
  net.loadStateDict(init, { strict: true });
  for (const t of Object.values(init)) t.dispose();
}

function trainStep(net: nn.Sequential, opt: SGD, x: Tensor, y: Tensor): number {
  const loss = tidy(() => F.crossEntropy(net.forward(x), y, { ignoreIndex: 255 }));
  opt.zeroGrad();
  loss.backward();
  opt.step();
  const value = loss.item();
  loss.dispose();
  return value;
}

describe('training a small network', () => {
  it(`follows PyTorch's loss trajectory over ${STEPS} SGD steps`, () => {
    const net = build();
    loadInit(net);
    net.train();
    const opt = new SGD(net.parameters(), {
      lr: Number(fx.metadata.lr),
      momentum: Number(fx.metadata.momentum),
      weightDecay: Number(fx.metadata.weight_decay),
    });
    const xs = Array.from({ length: BATCHES }, (_, i) => new Tensor(fx.input(`x.${i}`)));
    const ys = Array.from({ length: BATCHES }, (_, i) => new Tensor(fx.input(`y.${i}`)));
    const losses = new Float32Array(STEPS);
    for (let s = 0; s < STEPS; s++) losses[s] = trainStep(net, opt, xs[s % BATCHES], ys[s % BATCHES]);
    checkParity('loss trajectory', losses, fx.raw('loss.f64').data as Float64Array, fx.raw('loss.f32').data as Float32Array);
    for (const [key, value] of Object.entries(net.stateDict()))
      if (value.dtype === 'float32') fx.expect(`final.${key}`, value.native, `final ${key}`);
    opt.zeroGrad();
    opt.dispose();
    net.dispose();
    for (const t of [...xs, ...ys]) t.dispose();
    fx.dispose();
  });

  // A synchronous loop: disposed tensors must leave nothing for Node's (deferred) finalizers.
  it('returns to the same live tensors and bytes after every step, and keeps RSS flat over 300 steps after warm-up', () => {
    const net = build();
    net.train();
    const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
    const x = new Tensor(fx.input('x.0'));
    const y = new Tensor(fx.input('y.0'));
    trainStep(net, opt, x, y); // creates the momentum buffers and gradients
    const base = native.memory();
    expect(typeof global.gc, 'vitest must run with --expose-gc (vitest.config.ts)').toBe('function');
    let rssAfterWarmup = 0;
    const WARMUP = 1500;
    for (let s = 0; s < WARMUP + 300; s++) {
      trainStep(net, opt, x, y);
      const m = native.memory();
      expect(m.numTensors).toBe(base.numTensors);
      expect(m.numBytes).toBe(base.numBytes);
      if (s === WARMUP - 1) {
        global.gc!();
        rssAfterWarmup = process.memoryUsage().rss;
      }
    }
    global.gc!();
    const growth = process.memoryUsage().rss - rssAfterWarmup;
    if (process.env.ANN_SEG_SHOW_RSS) console.log(`RSS growth over 300 steps: ${(growth / 1048576).toFixed(2)} MiB`);
    expect(growth).toBeLessThan(4 * 1024 * 1024);
    opt.zeroGrad();
    opt.dispose();
    net.dispose();
    x.dispose();
    y.dispose();
    fx.dispose();
    // 1800 steps: seconds on the CPU, about two minutes on the emulated CUDA device on a loaded machine.
  }, 300_000);
});
