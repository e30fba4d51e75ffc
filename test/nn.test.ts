import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { F, io, manualSeed, memory, native, nn, noGrad, tensor, tidy, type Tensor } from '../lib/index.js';
import { Fixture, fixturesDir } from './helpers/parity.js';

const fx = new Fixture('nn_state');
const stateDictPath = join(fixturesDir(), 'nn_state_dict.safetensors');
const dir = mkdtempSync(join(tmpdir(), 'ann-nn-'));
afterAll(() => fx.dispose());

/** The PyTorch tree of test/reference/nn_state.py, f_key and f_query being one module. */
class Net extends nn.Module {
  readonly features = this.registerModule(
    'features',
    new nn.Sequential(
      new nn.Sequential(
        new nn.Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, bias: false }),
        new nn.BatchNorm2d(8),
        new nn.ReLU(),
      ),
      new nn.Sequential(
        new nn.Conv2d({ inChannels: 8, outChannels: 8, kernelSize: 3, stride: 2, padding: 2, dilation: 2 }),
        new nn.BatchNorm2d(8),
        new nn.ReLU(),
      ),
      new nn.MaxPool2d({ kernelSize: 3, stride: 2, padding: 1, ceilMode: true }),
      new nn.Dropout2d(0.1),
      new nn.Identity(),
    ),
  );
  readonly fKey = this.registerModule(
    'f_key',
    new nn.Sequential(
      new nn.Conv2d({ inChannels: 8, outChannels: 4, kernelSize: 1 }),
      new nn.Sequential(new nn.BatchNorm2d(4), new nn.ReLU()),
    ),
  );
  readonly fQuery = this.registerModule('f_query', this.fKey);
  readonly head = this.registerModule('head', new nn.Conv2d({ inChannels: 4, outChannels: 5, kernelSize: 1 }));

  forward(x: Tensor): Tensor {
    const f = this.features.call(x);
    return this.head.call(F.add(this.fKey.call(f), this.fQuery.call(F.scale(f, 0.5))));
  }
}

const torchKeys = JSON.parse(fx.metadata.state_dict_keys) as string[];
const torchParams = JSON.parse(fx.metadata.parameter_names) as string[];

function loaded(): Net {
  const net = new Net();
  const dict = io.readSafetensors(stateDictPath);
  try {
    expect(net.loadStateDict(dict)).toEqual({ missingKeys: [], unexpectedKeys: [] });
  } finally {
    for (const t of Object.values(dict)) t.dispose();
  }
  return net;
}

function input(key: string): Tensor {
  const r = fx.raw(key);
  return tensor(r.data as Float32Array, r.shape);
}

describe('nn.Module names', () => {
  it("gives PyTorch's state_dict keys in PyTorch's order, the shared module under both names", () => {
    using net = new Net();
    expect(Object.keys(net.stateDict())).toEqual(torchKeys);
    expect(net.stateDict()['f_key.0.weight']).toBe(net.stateDict()['f_query.0.weight']);
  });

  it('lists parameters once each, in named_parameters order', () => {
    using net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual(torchParams);
    expect(net.parameters()).toHaveLength(torchParams.length);
    expect(net.parameters().every((p) => p instanceof nn.Parameter && p.requiresGrad)).toBe(true);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(torchKeys.filter((k) => /running|num_batches/.test(k) && !k.startsWith('f_query')));
    expect(net.children()).toEqual([net.features, net.fKey, net.head]);
    expect(net.namedChildren().map(([n]) => n)).toEqual(['features', 'f_key', 'head']);
    expect(net.getSubmodule('f_query.1.0')).toBeInstanceOf(nn.BatchNorm2d);
    expect(() => net.getSubmodule('features.9')).toThrow(/no submodule 'features.9'/);
  });

  it('train() and eval() reach every descendant', () => {
    using net = new Net();
    expect(net.modules().every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
  });

  it('holds modules of any forward signature', () => {
    class Pair extends nn.Module<[Tensor, Tensor]> {
      forward(a: Tensor, b: Tensor): Tensor {
        return F.add(a, b);
      }
    }
    class Outer extends nn.Module {
      readonly pair = this.registerModule('pair', new Pair());
      readonly convs = this.registerModule('convs', new nn.ModuleList([new nn.Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 1, seed: 2 })]));
      forward(x: Tensor): Tensor {
        return this.pair.call(x, this.convs.at(0).call(x));
      }
    }
    using outer = new Outer();
    expect(Object.keys(outer.stateDict())).toEqual(['convs.0.weight', 'convs.0.bias']);
    tidy(() => {
      const x = tensor([1, 2], [1, 1, 1, 2]);
      const w = outer.convs.at(0).stateDict();
      const [k, b] = [w.weight.item(), w.bias.item()];
      const y = outer.call(x).toFloat32Array();
      expect(y[0]).toBeCloseTo(1 + (k + b), 6);
      expect(y[1]).toBeCloseTo(2 + (2 * k + b), 6);
    });
  });

  it('refuses names with dots and a name already used by another kind', () => {
    using m = new nn.Sequential(new nn.ReLU());
    expect(() => m.registerModule('a.b', new nn.ReLU())).toThrow(/without '\.'/);
    expect(() => m.registerBuffer('0', tensor([1]))).toThrow(/already a submodule/);
    expect(() => m.registerParameter('w', tensor([1]) as nn.Parameter)).toThrow(/expected an nn.Parameter/);
  });
});

describe('nn parity with PyTorch', () => {
  it('a PyTorch state_dict (converted checkpoint) loads strictly and gives the eval output', () => {
    using net = loaded();
    net.eval();
    const y = tidy(() => net.call(input('x')));
    fx.expect('eval.y', y.native);
    y.dispose();
  });

  it('training mode: output, every gradient (both uses of the shared module) and running statistics', () => {
    using net = loaded();
    net.train();
    net.features.at(3).eval(); // dropout off, as in the fixture
    tidy(() => {
      const y = net.call(input('train.x'));
      fx.expect('train.y', y.native);
      F.sum(F.mul(y, input('train.dy'))).backward();
    });
    for (const [name, p] of net.namedParameters()) fx.expect(`train.grad.${name}`, p.grad!.native);
    const state = net.stateDict();
    for (const key of torchKeys)
      if (/running_(mean|var)$/.test(key)) fx.expect(`train.after.${key}`, state[key].native);
      else if (key.endsWith('num_batches_tracked'))
        expect(state[key].item(), key).toBe(fx.numbers(`train.after.${key}`)[0]);
    expect(state['f_query.1.0.num_batches_tracked'].item()).toBe(8); // 6 loaded + 2 uses
  });

  it('memory returns to its baseline after forward and backward; dispose frees the module', () => {
    const before = memory().numTensors;
    const net = loaded();
    const baseline = memory().numTensors;
    const x = input('train.x');
    const dy = input('train.dy');
    for (const mode of [true, false]) {
      net.train(mode);
      tidy(() => F.sum(F.mul(net.call(x), dy)).backward());
      net.zeroGrad();
      expect(memory().numTensors, `training=${mode}`).toBe(baseline + 2);
    }
    x.dispose();
    dy.dispose();
    net.dispose();
    expect(memory().numTensors).toBe(before);
  });
});

describe('loadStateDict', () => {
  it('copies into the existing tensors (an optimizer keeps its references)', () => {
    using net = new Net();
    const params = net.parameters();
    const buffers = net.namedBuffers().filter(([n]) => !n.endsWith('num_batches_tracked'));
    using src = loaded();
    net.loadStateDict(src.stateDict());
    expect(net.parameters()).toEqual(params);
    params.forEach((p, i) => expect(p).toBe(net.parameters()[i]));
    const now = new Map(net.namedBuffers());
    for (const [name, b] of buffers) expect(now.get(name)).toBe(b);
    const theirs = src.stateDict();
    for (const [key, t] of Object.entries(net.stateDict())) expect(t.toFloat32Array(), key).toEqual(theirs[key].toFloat32Array());
    expect(net.stateDict()['f_key.1.0.num_batches_tracked'].dtype).toBe('int32');
  });

  it('a strict load lists every missing key, unexpected key and shape mismatch, and copies nothing', () => {
    using net = new Net();
    const before = net.head.weight.toFloat32Array();
    const dict = io.readSafetensors(stateDictPath);
    try {
      dict['head.weight'].dispose();
      delete dict['head.weight'];
      delete dict['features.0.0.weight'];
      dict['extra.weight'] = tensor([1, 2]);
      dict['head.bias'].dispose();
      dict['head.bias'] = tensor([1, 2, 3]);
      let message = '';
      try {
        net.loadStateDict(dict);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/Error\(s\) in loading state_dict for Net/);
      expect(message).toMatch(/Missing key\(s\) in state_dict: "features\.0\.0\.weight", "head\.weight"\./);
      expect(message).toMatch(/Unexpected key\(s\) in state_dict: "extra\.weight"\./);
      expect(message).toMatch(/size mismatch for head\.bias: copying a param with shape \[3\] from checkpoint, the shape in current model is \[5\]/);
      expect(net.head.weight.toFloat32Array()).toEqual(before);
      expect(net.getSubmodule('features.1.1').getBuffer('num_batches_tracked')!.item()).toBe(0);

      // Not strict: shape mismatches are still errors (as PyTorch); without them, what matches loads.
      expect(() => net.loadStateDict(dict, { strict: false })).toThrow(/size mismatch for head\.bias/);
      dict['head.bias'].dispose();
      delete dict['head.bias'];
      const r = net.loadStateDict(dict, { strict: false });
      expect(r).toEqual({ missingKeys: ['features.0.0.weight', 'head.weight', 'head.bias'], unexpectedKeys: ['extra.weight'] });
      expect(net.head.weight.toFloat32Array()).toEqual(before);
      expect(net.getSubmodule('features.1.1').getBuffer('num_batches_tracked')!.item()).toBe(3);
    } finally {
      for (const t of Object.values(dict)) t.dispose();
    }
  });

  it('accepts a checkpoint without num_batches_tracked (older PyTorch), resetting it to 0', () => {
    using bn = new nn.BatchNorm2d(2);
    const dict = { weight: tensor([2, 3]), bias: tensor([0, 1]), running_mean: tensor([1, 1]), running_var: tensor([4, 4]) };
    expect(bn.loadStateDict(dict)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(bn.runningVar!.toFloat32Array()).toEqual(new Float32Array([4, 4]));
    expect(bn.numBatchesTracked!.item()).toBe(0);
    for (const t of Object.values(dict)) t.dispose();
  });

  it('round-trips through io.writeSafetensors / io.readSafetensors', () => {
    using src = loaded();
    const path = join(dir, 'net.safetensors');
    io.writeSafetensors(path, src.stateDict(), { format: 'pt' });
    using dst = new Net();
    const dict = io.readSafetensors(path);
    expect(Object.keys(dict).sort()).toEqual([...torchKeys].sort());
    dst.loadStateDict(dict);
    for (const t of Object.values(dict)) t.dispose();
    const [a, b] = [src.stateDict(), dst.stateDict()];
    for (const key of torchKeys) {
      expect(b[key].dtype, key).toBe(a[key].dtype);
      expect(Array.from(b[key].native.toArray()), key).toEqual(Array.from(a[key].native.toArray()));
    }
  });
});

describe('layers', () => {
  it('Conv2d: kaiming_uniform_(a=sqrt(5)) weights and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias', () => {
    using conv = new nn.Conv2d({ inChannels: 16, outChannels: 64, kernelSize: 3, seed: 1 });
    const bound = 1 / Math.sqrt(16 * 9);
    const w = conv.weight.toFloat32Array();
    expect(conv.weight.shape).toEqual([64, 16, 3, 3]);
    expect(Math.max(...w)).toBeLessThanOrEqual(bound);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-bound);
    // 9216 uniform draws: the extremes come within 0.2% of the bound, mean and variance as U(-b, b).
    expect(Math.max(...w)).toBeGreaterThan(0.998 * bound);
    expect(Math.min(...w)).toBeLessThan(-0.998 * bound);
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const variance = w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length;
    expect(Math.abs(mean)).toBeLessThan(0.05 * bound);
    expect(variance / (bound * bound / 3)).toBeGreaterThan(0.95);
    expect(variance / (bound * bound / 3)).toBeLessThan(1.05);
    const b = conv.bias!.toFloat32Array();
    expect(b.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(new Set(b).size).toBe(64);
  });

  it('initialisation is seeded: the same seed gives the same weights, manualSeed drives the default', () => {
    const opts = { inChannels: 4, outChannels: 6, kernelSize: [3, 1] as [number, number] };
    using a = new nn.Conv2d({ ...opts, seed: 5 });
    using b = new nn.Conv2d({ ...opts, seed: 5 });
    using c = new nn.Conv2d({ ...opts, seed: 6 });
    expect(a.weight.toFloat32Array()).toEqual(b.weight.toFloat32Array());
    expect(a.bias!.toFloat32Array()).toEqual(b.bias!.toFloat32Array());
    expect(a.weight.toFloat32Array()).not.toEqual(c.weight.toFloat32Array());
    manualSeed(42);
    using d = new nn.Conv2d(opts);
    manualSeed(42);
    using e = new nn.Conv2d(opts);
    expect(d.weight.toFloat32Array()).toEqual(e.weight.toFloat32Array());
    using f = new nn.Conv2d(opts);
    expect(f.weight.toFloat32Array()).not.toEqual(e.weight.toFloat32Array());
    expect(() => new nn.Conv2d({ ...opts, groups: 2 })).toThrow(/groups = 2 is not supported/);
    expect(() => new nn.Conv2d({ ...opts, padding: -1 })).toThrow(/Conv2d: padding must be an integer >= 0/);
  });

  it('BatchNorm2d: defaults, a count per training forward, momentum null = cumulative average', () => {
    using bn = new nn.BatchNorm2d(2, { momentum: null });
    expect(bn.weight!.toFloat32Array()).toEqual(new Float32Array([1, 1]));
    expect(bn.bias!.toFloat32Array()).toEqual(new Float32Array([0, 0]));
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(bn.numBatchesTracked!.shape).toEqual([]);
    // Two batches, channel means 1 and 3 (then 3 and 5): the cumulative average is their mean.
    for (const m of [1, 3]) tidy(() => bn.call(tensor([m - 1, m + 1, m + 1, m - 1, m + 2, m + 2, m + 2, m + 2], [1, 2, 2, 2])));
    expect(bn.numBatchesTracked!.item()).toBe(2);
    expect(bn.runningMean!.toFloat32Array()).toEqual(new Float32Array([2, 4]));
    bn.eval();
    tidy(() => bn.call(tensor(new Float32Array(8), [1, 2, 2, 2])));
    expect(bn.numBatchesTracked!.item()).toBe(2);
    expect(() => bn.call(tensor([1, 2], [1, 2]))).toThrow(/BatchNorm2d: expected 4D input/);
    using plain = new nn.BatchNorm2d(3, { affine: false, trackRunningStats: false });
    expect(Object.keys(plain.stateDict())).toEqual([]);
    plain.eval();
    const y = tidy(() => plain.call(tensor([1, 3, 0, 0, 5, 7, 1, 2, 3, 4, 5, 6], [2, 3, 1, 2])));
    // Batch statistics even in eval: channel 0 holds 1, 3, 1, 2 (mean 1.75, biased variance 0.6875).
    expect(y.toFloat32Array()[0]).toBeCloseTo(-0.75 / Math.sqrt(0.6875 + 1e-5), 5);
    y.dispose();
  });

  it('ReLU, MaxPool2d, Dropout2d, Identity, Sequential and ModuleList', () => {
    tidy(() => {
      const x = tensor([-1, 2, 3, -4, 5, 6, -7, 8, 9], [1, 1, 3, 3]);
      expect(Array.from(new nn.ReLU().call(x).toFloat32Array())).toEqual([0, 2, 3, 0, 5, 6, 0, 8, 9]);
      const pool = new nn.MaxPool2d({ kernelSize: 2, stride: 1 });
      expect(Array.from(pool.call(x).toFloat32Array())).toEqual([5, 6, 8, 9]);
      expect(pool.options.stride).toEqual([1, 1]);
      expect(new nn.MaxPool2d({ kernelSize: 2 }).options.stride).toEqual([2, 2]);
      const id = new nn.Identity();
      expect(id.call(x)).toBe(x);
      const drop = new nn.Dropout2d(0.5);
      const big = tensor(new Float32Array(64 * 4).fill(1), [1, 64, 2, 2]);
      const kept = Array.from(drop.call(big).toFloat32Array());
      expect(kept.every((v) => v === 0 || v === 2)).toBe(true);
      expect(kept.some((v) => v === 0) && kept.some((v) => v === 2)).toBe(true);
      drop.eval();
      expect(Array.from(drop.call(big).toFloat32Array()).every((v) => v === 1)).toBe(true);
    });
    using seq = new nn.Sequential(new nn.ReLU(), new nn.Identity());
    expect(seq.namedChildren().map(([n]) => n)).toEqual(['0', '1']);
    expect(seq.length).toBe(2);
    using list = new nn.ModuleList([new nn.Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 1 }), new nn.BatchNorm2d(1)]);
    expect(Object.keys(list.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    expect([...list].length).toBe(2);
    expect(() => list.forward()).toThrow(/ModuleList has no forward/);
    expect(() => list.at(5)).toThrow(/index 5 out of range/);
  });

  it('init: kaimingNormal_ fan_out (ResNet) and constants', () => {
    using conv = new nn.Conv2d({ inChannels: 8, outChannels: 32, kernelSize: 3, bias: false });
    nn.init.kaimingNormal_(conv.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    const w = conv.weight.toFloat32Array();
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std / Math.sqrt(2 / (32 * 9))).toBeGreaterThan(0.93);
    expect(std / Math.sqrt(2 / (32 * 9))).toBeLessThan(1.07);
    nn.init.constant_(conv.weight, 0.25);
    expect(conv.weight.toFloat32Array().every((v) => v === 0.25)).toBe(true);
    expect(() => nn.init.fans([3])).toThrow(/at least 2 dimensions/);
  });
});

describe('memory during forward', () => {
  it('frees each layer’s intermediates as the next one runs: an inference peak of a few activations, not all', () => {
    const layers = Array.from({ length: 8 }, (_, i) => new nn.Conv2d({ inChannels: 32, outChannels: 32, kernelSize: 1, seed: i }));
    const net = new nn.Sequential(...layers.flatMap((c) => [c, new nn.ReLU()]));
    net.eval();
    const x = tensor(new Float32Array(32 * 64 * 64).fill(0.5), [1, 32, 64, 64]);
    const activation = 32 * 64 * 64 * 4;
    native.resetPeakBytes();
    const base = memory().allocatedBytes;
    const y = tidy(() => noGrad(() => net.call(x)));
    // 16 layers each make one activation; at most the input of a layer, its output and the
    // result may be live at once (the 1x1 convs need no workspace).
    expect(memory().peakBytes - base).toBeLessThanOrEqual(3 * activation);
    y.dispose();
    x.dispose();
    net.dispose();
  });
});
