// The differentiable F ops over the native kernels (conv2d, batchNorm, maxPool2d, dropout2d,
// interpolate, pyramidPool, gatherPositions, asymmetricAttention): forward and every input gradient
// against PyTorch autograd (test/reference/f_nn.py), alone and composed (a conv-bn-relu stack,
// APNB's attention core with one key/query module used twice), memory, and bad input.
import { afterAll, describe, expect, it } from 'vitest';

import { tidy } from '../lib/autograd/scope.js';
import { noGrad } from '../lib/autograd/tape.js';
import { native } from '../lib/native/index.js';
import { relu } from '../lib/ops/arith.js';
import { asymmetricAttention, keepsProbabilities } from '../lib/ops/attention.js';
import { conv2d } from '../lib/ops/conv.js';
import { dropout2d } from '../lib/ops/dropout.js';
import { interpolate, type InterpolateOptions } from '../lib/ops/interp.js';
import { batchNorm } from '../lib/ops/norm.js';
import { gatherPositions, maxPool2d, pyramidPool, samplePositions, type MaxPool2dOptions } from '../lib/ops/pool.js';
import { manualSeed } from '../lib/random.js';
import { memory, randn, Tensor, tensor } from '../lib/tensor.js';
import { Fixture, counted } from './helpers/parity.js';

interface Case extends Record<string, unknown> {
  op: string;
  key: string;
  inputs: string[];
  grads: string[];
}

const fixtures: Fixture[] = [];
function fixture(name: string): Fixture {
  const fx = new Fixture(name);
  fixtures.push(fx);
  return fx;
}
afterAll(() => fixtures.forEach((fx) => fx.dispose()));

/** A fixture input as a Tensor (a leaf that requires grad when asked). */
const leaf = (fx: Fixture, key: string, requiresGrad = false) => new Tensor(fx.input(key), requiresGrad);

/** Disposes the tensors and, for leaves, their gradients. */
function release(...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) {
    t?.grad?.dispose();
    t?.dispose();
  }
}

const pick = (c: Case, names: string[]) =>
  Object.fromEntries(names.filter((n) => c[n] !== undefined).map((n) => [n, c[n]]));

describe('F ops: forward and input gradients against PyTorch', () => {
  const fx = fixture('f_nn_ops');
  const cases = JSON.parse(fx.metadata.cases) as Case[];

  function run(c: Case, ins: Record<string, Tensor>): { y: Tensor; buffers: Record<string, Tensor> } {
    const { x } = ins;
    switch (c.op) {
      case 'conv2d':
        return { y: conv2d(x, ins.weight, ins.bias ?? null, pick(c, ['stride', 'padding', 'dilation'])), buffers: {} };
      case 'batchNorm': {
        const [mean, variance] = c.stats ? [leaf(fx, `${c.key}.runningMean0`), leaf(fx, `${c.key}.runningVar0`)] : [null, null];
        const y = batchNorm(x, mean, variance, ins.weight, ins.bias, pick(c, ['training', 'momentum', 'eps']));
        return { y, buffers: mean && variance ? { runningMean: mean, runningVar: variance } : {} };
      }
      case 'maxPool2d':
        return { y: maxPool2d(x, pick(c, ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode']) as unknown as MaxPool2dOptions), buffers: {} };
      case 'interpolate':
        return { y: interpolate(x, pick(c, ['size', 'scaleFactor', 'alignCorners']) as InterpolateOptions), buffers: {} };
      case 'pyramidPool':
        return { y: pyramidPool(x, pick(c, ['sizes', 'mode'])), buffers: {} };
      case 'gatherPositions':
        return { y: gatherPositions(x, leaf(fx, `${c.key}.positions`)), buffers: {} };
      case 'asymmetricAttention':
        return { y: asymmetricAttention(ins.q, ins.k, ins.v, pick(c, ['scale'])), buffers: {} };
      case 'dropout2d':
        return { y: dropout2d(x, pick(c, ['p', 'seed'])), buffers: {} };
      default:
        throw new Error(`unknown case op ${c.op}`);
    }
  }

  it.each(counted('f_nn cases', cases, 25))('$op $key', (c) => {
    const ins = Object.fromEntries(c.inputs.map((n) => [n, leaf(fx, `${c.key}.${n}`, c.grads.includes(n))]));
    const { y, buffers } = run(c, ins);
    fx.expect(`${c.key}.y`, y.native);
    for (const [name, t] of Object.entries(buffers)) fx.expect(`${c.key}.${name}`, t.native);
    const dy = leaf(fx, `${c.key}.dy`);
    y.backward(dy);
    for (const n of c.grads) {
      expect(ins[n].grad, `${c.key}: ${n}.grad`).not.toBeNull();
      fx.expect(`${c.key}.d${n}`, ins[n].grad!.native);
    }
    release(y, dy, ...Object.values(ins), ...Object.values(buffers));
  });
});

describe('composite expressions against PyTorch autograd', () => {
  it('conv-bn(train)-relu-maxpool-conv-bn(train)-relu: output, running stats, every gradient', () => {
    const fx = fixture('f_nn_stack');
    const names = ['conv1.weight', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'conv2.bias', 'bn2.weight', 'bn2.bias'];
    const p = Object.fromEntries(names.map((n) => [n, leaf(fx, n, true)]));
    const x = leaf(fx, 'x', true);
    const stats = {
      'bn1.running_mean': tensor(new Float32Array(4).fill(0), [4]),
      'bn1.running_var': tensor(new Float32Array(4).fill(1), [4]),
      'bn2.running_mean': tensor(new Float32Array(5).fill(0), [5]),
      'bn2.running_var': tensor(new Float32Array(5).fill(1), [5]),
    };
    const y = tidy(() => {
      let h = conv2d(x, p['conv1.weight'], null, { padding: 1 });
      h = relu(batchNorm(h, stats['bn1.running_mean'], stats['bn1.running_var'], p['bn1.weight'], p['bn1.bias'], { training: true }));
      h = maxPool2d(h, { kernelSize: 3, stride: 2, padding: 1 });
      h = conv2d(h, p['conv2.weight'], p['conv2.bias'], { padding: 2, dilation: 2 });
      return relu(batchNorm(h, stats['bn2.running_mean'], stats['bn2.running_var'], p['bn2.weight'], p['bn2.bias'], { training: true }));
    });
    fx.expect('y', y.native);
    for (const [n, t] of Object.entries(stats)) fx.expect(n, t.native);
    const dy = leaf(fx, 'dy');
    y.backward(dy);
    fx.expect('dx', x.grad!.native);
    for (const n of names) fx.expect(`d${n}`, p[n].grad!.native);
    release(y, dy, x, ...Object.values(p), ...Object.values(stats));
  });

  it("APNB's attention core with shared key/query weights (a tensor used twice accumulates both)", () => {
    const fx = fixture('f_nn_apnb');
    const names = ['f_key.0.weight', 'f_key.0.bias', 'f_key.1.weight', 'f_key.1.bias', 'f_value.weight', 'f_value.bias'];
    const p = Object.fromEntries(names.map((n) => [n, leaf(fx, n, true)]));
    const x = leaf(fx, 'x', true);
    const [b, , h, w] = x.shape;
    const y = tidy(() => {
      const kq = relu(batchNorm(conv2d(x, p['f_key.0.weight'], p['f_key.0.bias']), null, null, p['f_key.1.weight'], p['f_key.1.bias'], { training: true }));
      const value = pyramidPool(conv2d(x, p['f_value.weight'], p['f_value.bias'])).transpose(1, 2);
      const key = pyramidPool(kq).transpose(1, 2);
      const query = kq.reshape([b, kq.shape[1], h * w]).transpose(1, 2);
      return asymmetricAttention(query, key, value);
    });
    fx.expect('y', y.native);
    const dy = leaf(fx, 'dy');
    y.backward(dy);
    fx.expect('dx', x.grad!.native);
    for (const n of names) fx.expect(`d${n}`, p[n].grad!.native);
    release(y, dy, x, ...Object.values(p));
  });

  it('attention with the same tensor as query and key adds both gradients', () => {
    const q = randn([1, 6, 4], { seed: 1, requiresGrad: true });
    const v = randn([1, 6, 3], { seed: 2 });
    const dy = randn([1, 6, 3], { seed: 3 });
    const y = asymmetricAttention(q, q, v);
    y.backward(dy);
    // S x N is small here, so the op keeps the probabilities for its backward.
    expect(keepsProbabilities(q, q, v)).toBe(true);
    const r = native.attention(q.native, q.native, v.native, { keepProbabilities: true });
    const d = native.attentionBackward(dy.native, q.native, q.native, v.native, r.out, r.lse, { needV: false }, r.p);
    native.addInPlace(d.dq!, d.dk!);
    expect(Array.from(q.grad!.toFloat32Array())).toEqual(Array.from(d.dq!.toArray()));
    for (const t of [r.out, r.lse, r.p!, d.dq!, d.dk!]) t.dispose();
    release(q, v, dy, y);
  });
});

describe('memory', () => {
  /** Every op, aux-tensor paths included (maxpool/pyramid-max indices, lse, dropout mask, scaled interpolate). */
  function forward(x: Tensor, weight: Tensor, gamma: Tensor): Tensor {
    let h = conv2d(x, weight, null, { padding: 1 });
    h = relu(batchNorm(h, null, null, gamma, null, { training: true }));
    h = dropout2d(h, { p: 0.3 });
    h = interpolate(maxPool2d(h, { kernelSize: 2 }), { scaleFactor: 1.5 });
    const [b, c] = h.shape;
    const pos = samplePositions({ height: h.shape[2], width: h.shape[3], n: 2, batch: b });
    const key = pyramidPool(h, { mode: 'max' }).transpose(1, 2);
    const value = gatherPositions(h, pos).transpose(1, 2);
    const avg = pyramidPool(h, { sizes: [2] }).transpose(1, 2);
    const query = h.reshape([b, c, -1]).transpose(1, 2);
    return asymmetricAttention(query, key, asymmetricAttention(key, value, avg.reshape([b, 2, 2, c]).reshape([b, 4, c])));
  }

  it('returns to its baseline after forward + backward inside tidy, and after a noGrad forward', () => {
    const x = randn([2, 3, 9, 7], { seed: 4, requiresGrad: true });
    const weight = randn([4, 3, 3, 3], { seed: 5, requiresGrad: true });
    const gamma = randn([4], { seed: 6, requiresGrad: true });
    const base = memory().numTensors;
    tidy(() => {
      const y = forward(x, weight, gamma);
      y.backward(randn(y.shape, { seed: 7 }));
    });
    // Only the three leaves' gradients are new.
    expect(memory().numTensors - base).toBe(3);
    for (const t of [x, weight, gamma]) {
      t.grad!.dispose();
      t.grad = null;
    }
    expect(memory().numTensors).toBe(base);
    tidy(() => {
      noGrad(() => forward(x, weight, gamma));
    });
    expect(memory().numTensors).toBe(base);
    release(x, weight, gamma);
  });
});

describe('dropout2d and samplePositions: seeds', () => {
  it('is the identity (with gradient) when not training or p = 0, and drops nothing at random then', () => {
    const x = randn([2, 3, 4], { seed: 8, requiresGrad: true });
    for (const opts of [{ training: false }, { p: 0 }]) {
      const y = dropout2d(x, opts);
      expect(y).not.toBe(x);
      expect(Array.from(y.toFloat32Array())).toEqual(Array.from(x.toFloat32Array()));
      y.backward(tensor(new Float32Array(24).fill(2), [2, 3, 4]));
      y.dispose();
    }
    expect(Array.from(x.grad!.toFloat32Array())).toEqual(new Array(24).fill(4));
    release(x);
  });

  it('draws its seed from the default generator: reproducible under manualSeed, fresh on each call', () => {
    const x = randn([4, 16, 2, 2], { seed: 9 });
    const masks = () => {
      const a = dropout2d(x);
      const b = dropout2d(x);
      const out = [a.toFloat32Array(), b.toFloat32Array()];
      release(a, b);
      return out;
    };
    manualSeed(11);
    const [a1, b1] = masks();
    manualSeed(11);
    const [a2, b2] = masks();
    expect(a2).toEqual(a1);
    expect(b2).toEqual(b1);
    expect(b1).not.toEqual(a1);
    // An explicit seed is the native kernel's mask, whatever the generator's state.
    const y = dropout2d(x, { p: 0.5, seed: 5 });
    const r = native.dropout2d(x.native, { p: 0.5, seed: 5 });
    expect(y.toFloat32Array()).toEqual(r.y.toArray());
    release(x, y);
    r.y.dispose();
    r.mask.dispose();
  });

  it('samplePositions returns int32 positions, reproducible under manualSeed', () => {
    manualSeed(3);
    const a = samplePositions({ height: 7, width: 9, batch: 2 });
    manualSeed(3);
    const b = samplePositions({ height: 7, width: 9, batch: 2 });
    const c = samplePositions({ height: 7, width: 9, batch: 2, seed: 4 });
    const d = native.samplePositions({ height: 7, width: 9, batch: 2, seed: 4 });
    expect(a.dtype).toBe('int32');
    expect(a.shape).toEqual([2, 110]);
    expect(a.toInt32Array()).toEqual(b.toInt32Array());
    expect(c.toInt32Array()).toEqual(d.toArray());
    release(a, b, c);
    d.dispose();
  });
});

describe('bad input', () => {
  const x4 = () => randn([1, 2, 5, 5], { seed: 1 });
  const cases: [string, (x: Tensor) => unknown, RegExp][] = [
    ['conv2d groups', (x) => conv2d(x, randn([3, 2, 3, 3]), null, { groups: 2 } as never), /^conv2d: unknown option 'groups'/],
    ['conv2d channels', (x) => conv2d(x, randn([3, 4, 3, 3])), /^conv2d: .*\[1,2,5,5\].*\[3,4,3,3\]/],
    ['batchNorm option', (x) => batchNorm(x, null, null, null, null, { train: true } as never), /^batchNorm: unknown option 'train'/],
    ['batchNorm momentum', (x) => batchNorm(x, null, null, null, null, { training: true, momentum: 2 }), /^batchNorm: momentum/],
    ['batchNorm eval without stats', (x) => batchNorm(x, null, null), /^batchNorm/],
    ['maxPool2d no kernel', (x) => maxPool2d(x, {} as never), /^maxPool2d: options.kernelSize is required/],
    ['maxPool2d option', (x) => maxPool2d(x, { kernelSize: 2, pad: 1 } as never), /^maxPool2d: unknown option 'pad'/],
    ['interpolate size and scale', (x) => interpolate(x, { size: 4, scaleFactor: 2 }), /^interpolate: .*exactly one of size and scaleFactor/],
    ['interpolate neither', (x) => interpolate(x, {}), /^interpolate: .*exactly one of size and scaleFactor/],
    ['interpolate nearest', (x) => interpolate(x, { size: 4, mode: 'nearest' } as never), /^interpolate: mode 'nearest' is not supported/],
    ['interpolate option', (x) => interpolate(x, { size: 4, align_corners: true } as never), /^interpolate: unknown option 'align_corners'/],
    ['interpolate bad size', (x) => interpolate(x, { size: [4, 0] }), /^interpolate: .*size must be a positive integer/],
    ['interpolate empty', (x) => interpolate(x, { scaleFactor: 0.1 }), /^interpolate: .*empty output/],
    ['interpolate 3-D', () => interpolate(randn([2, 5, 5]), { size: 4 }), /^interpolate: x \[2,5,5\]: bilinear needs a 4-D/],
    ['dropout2d p', (x) => dropout2d(x, { p: 1.5 }), /^dropout2d: p must be in \[0, 1\]/],
    ['dropout2d option', (x) => dropout2d(x, { rate: 0.5 } as never), /^dropout2d: unknown option 'rate'/],
    ['pyramidPool option', (x) => pyramidPool(x, { size: [1] } as never), /^pyramidPool: unknown option 'size'/],
    ['gatherPositions float positions', (x) => gatherPositions(x, randn([1, 3])), /^gatherPositions/],
    ['attention shapes', () => asymmetricAttention(randn([1, 4, 3]), randn([1, 5, 2]), randn([1, 5, 2])), /^attention/],
    ['attention option', () => asymmetricAttention(randn([1, 4, 3]), randn([1, 5, 3]), randn([1, 5, 2]), { temp: 1 } as never), /^asymmetricAttention: unknown option 'temp'/],
    ['samplePositions', () => samplePositions(undefined as never), /^samplePositions: options/],
  ];
  it.each(cases)('%s', (_, fn, message) => {
    const base = memory().numTensors;
    tidy(() => {
      expect(() => fn(x4())).toThrow(message);
    });
    expect(memory().numTensors).toBe(base);
  });
});
