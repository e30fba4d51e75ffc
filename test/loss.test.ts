import { afterAll, describe, expect, it } from 'vitest';

import { defaultDevice } from '../lib/device.js';
import { native, type NativeTensor } from '../lib/native/index.js';
import { disposeAfterAll } from './helpers/dispose.js';
import { Fixture, counted } from './helpers/parity.js';

const sm = new Fixture('loss_softmax');
const ce = new Fixture('loss_ce');
const oh = new Fixture('loss_ohem');
afterAll(() => [sm, ce, oh].forEach((f) => f.dispose()));

const keep = disposeAfterAll();
const f32 = (v: number[], shape: number[]) => keep(native.fromArray(new Float32Array(v), shape, defaultDevice()));
const i32 = (v: number[], shape: number[]) => keep(native.fromArray(new Int32Array(v), shape, defaultDevice()));

describe('softmax and logSoftmax match PyTorch', () => {
  const cases = JSON.parse(sm.metadata.cases) as { name: string; axis: number }[];
  it.each(counted('softmax cases', cases.map((c) => [c.name, c] as const), 8))('%s forward and input gradient', (_, c) => {
    const x = sm.input(`${c.name}.x`);
    const dy = sm.input(`${c.name}.dy`);
    const y = keep(native.softmax(x, { axis: c.axis }));
    sm.expect(`${c.name}.softmax.y`, y);
    sm.expect(`${c.name}.softmax.dx`, keep(native.softmaxBackward(dy, y, { axis: c.axis })));
    const ly = keep(native.logSoftmax(x, { axis: c.axis }));
    sm.expect(`${c.name}.logSoftmax.y`, ly);
    sm.expect(`${c.name}.logSoftmax.dx`, keep(native.logSoftmaxBackward(dy, ly, { axis: c.axis })));
  });

  it('defaults to the last axis', () => {
    const x = sm.input('last.x');
    sm.expect('last.softmax.y', keep(native.softmax(x)));
  });
});

describe('argmax matches torch.argmax', () => {
  const cases = JSON.parse(sm.metadata.argmax) as { name: string; axis: number }[];
  it.each(counted('argmax cases', cases.map((c) => [c.name, c] as const), 4))('%s', (_, c) => {
    const idx = keep(native.argmax(sm.input(`argmax.${c.name}.x`), { axis: c.axis }));
    expect(idx.dtype).toBe('int32');
    expect(idx.shape).toEqual(sm.shape(`argmax.${c.name}.idx`));
    expect(Array.from(idx.toArray())).toEqual(sm.numbers(`argmax.${c.name}.idx`));
  });

  it('reduces a vector to a scalar', () => {
    const idx = keep(native.argmax(f32([3, 9, 9, 1], [4])));
    expect(idx.shape).toEqual([]);
    expect(Array.from(idx.toArray())).toEqual([1]);
  });
});

describe('crossEntropy matches F.cross_entropy', () => {
  const cases = JSON.parse(ce.metadata.cases) as { name: string; ignoreIndex: number; weighted: boolean }[];
  const rows = cases.flatMap((c) => (['mean', 'sum', 'none'] as const).map((r) => [`${c.name} ${r}`, c, r] as const));
  it.each(counted('cross-entropy cases', rows, 24))('%s forward and logits gradient', (_, c, reduction) => {
    const logits = ce.input(`${c.name}.logits`);
    const target = ce.input(`${c.name}.target`);
    const opts = { ignoreIndex: c.ignoreIndex, reduction, weight: c.weighted ? ce.input(`${c.name}.weight`) : undefined };
    const { loss } = native.crossEntropy(logits, target, opts);
    keep(loss);
    ce.expect(`${c.name}.${reduction}.loss`, loss);
    const dlogits = keep(native.crossEntropyBackward(ce.input(`${c.name}.${reduction}.dloss`), logits, target, opts));
    ce.expect(`${c.name}.${reduction}.dlogits`, dlogits);
  });

  it('gives NaN for mean over all-ignored pixels with a zero gradient, as PyTorch', () => {
    const logits = ce.input('allignored.logits');
    const target = ce.input('allignored.target');
    const opts = { ignoreIndex: 255, weight: ce.input('allignored.weight') };
    expect(Number.isNaN(keep(native.crossEntropy(logits, target, opts).loss).toArray()[0])).toBe(true);
    const d = keep(native.crossEntropyBackward(f32([1], []), logits, target, opts));
    expect(Array.from(d.toArray()).every((v) => v === 0)).toBe(true);
  });

  it('propagates NaN and Inf logits', () => {
    const logits = f32([1, Number.NaN, 0, 2, Infinity, 1, 3, 1, 2], [3, 3]);
    const { loss } = native.crossEntropy(logits, i32([0, 0, 2], [3]), { reduction: 'none' });
    const l = Array.from(keep(loss).toArray());
    expect(Number.isNaN(l[0]) && Number.isNaN(l[1])).toBe(true);
    expect(l[2]).toBeCloseTo(Math.log(Math.exp(3) + Math.exp(1) + Math.exp(2)) - 2, 5);
  });

  it('is deterministic across thread counts', () => {
    const logits = ce.input('tile.logits');
    const target = ce.input('tile.target');
    const run = () => Array.from(keep(native.crossEntropy(logits, target, { ignoreIndex: 255, reduction: 'sum' }).loss).toArray());
    const threads = native.numThreads();
    const a = run();
    native.setNumThreads(1);
    const b = run();
    native.setNumThreads(threads);
    expect(a).toEqual(b);
  });
});

describe('ohemCrossEntropy matches the official ANN loss (FSOhemCELoss)', () => {
  interface OhemCase {
    name: string;
    minKept: number;
    thresh: number;
    ignoreIndex: number;
    weighted: boolean;
    regime: string;
    kept: number;
  }
  const cases = JSON.parse(oh.metadata.cases) as OhemCase[];
  const opts = (c: OhemCase) => ({
    minKept: c.minKept,
    thresh: c.thresh,
    ignoreIndex: c.ignoreIndex,
    weight: c.weighted ? oh.input(`${c.name}.weight`) : undefined,
  });

  it.each(counted('ohem cases', cases.map((c) => [`${c.name} (threshold from ${c.regime})`, c] as const), 6))('%s', (_, c) => {
    const logits = oh.input(`${c.name}.logits`);
    const target = oh.input(`${c.name}.target`);
    const r = native.ohemCrossEntropy(logits, target, opts(c));
    keep(r.loss);
    keep(r.kept);
    expect(Array.from(r.kept.toArray())).toEqual(oh.numbers(`${c.name}.kept`));
    expect(r.kept.shape).toEqual([]);
    oh.expect(`${c.name}.loss`, r.loss);
    oh.expect(`${c.name}.threshold`, new Float32Array([r.threshold]));
    const dloss = oh.input(`${c.name}.dloss`);
    const d = keep(native.ohemCrossEntropyBackward(dloss, logits, target, opts(c)));
    oh.expect(`${c.name}.dlogits`, d);
    // Given the forward's selection, the backward is the same to the bit.
    const known = keep(native.ohemCrossEntropyBackward(dloss, logits, target, { ...opts(c), threshold: r.threshold, kept: r.kept }));
    expect(Array.from(known.toArray())).toEqual(Array.from(d.toArray()));
  });

  it('covers both regimes, minKept above and below the valid count, weights and ignored pixels', () => {
    expect(new Set(cases.map((c) => c.regime))).toEqual(new Set(['thresh', 'sorted']));
    expect(cases.some((c) => c.minKept > oh.numbers(`${c.name}.target`).length)).toBe(true);
    expect(cases.some((c) => c.minKept < c.kept)).toBe(true);
    expect(cases.some((c) => c.weighted)).toBe(true);
    expect(cases.every((c) => oh.numbers(`${c.name}.target`).includes(c.ignoreIndex))).toBe(true);
  });

  // Two pixels, 2 classes: p(class 0) = sigmoid(2) at the first, sigmoid(-1) at the second.
  const logits = f32([2, -1, 0, 0], [1, 2, 1, 2]);
  const zeroGrad = (t: NativeTensor, o: object) =>
    Array.from(keep(native.ohemCrossEntropyBackward(f32([1], []), logits, t, o)).toArray()).every((v) => v === 0);

  it('no valid pixel: loss 0, kept 0, threshold = thresh, zero gradient (PyTorch fails on the empty sort)', () => {
    const t = i32([255, 255], [1, 1, 2]);
    const r = native.ohemCrossEntropy(logits, t);
    expect(keep(r.loss).toArray()[0]).toBe(0);
    expect(keep(r.kept).toArray()[0]).toBe(0);
    expect(r.threshold).toBe(0.7);
    expect(zeroGrad(t, {})).toBe(true);
    expect(zeroGrad(t, { threshold: r.threshold, kept: 0 })).toBe(true);
  });

  it('nothing kept: loss 0, kept 0, zero gradient (PyTorch: NaN, the mean of nothing)', () => {
    const t = i32([0, 0], [1, 1, 2]);
    // minKept 0 with thresh 0: the bound is the smallest p, and nothing is strictly below it.
    const o = { minKept: 0, thresh: 0 };
    const r = native.ohemCrossEntropy(logits, t, o);
    expect(keep(r.loss).toArray()[0]).toBe(0);
    expect(keep(r.kept).toArray()[0]).toBe(0);
    expect(zeroGrad(t, o)).toBe(true);
    // One valid pixel above thresh: the official rule keeps p < max(p, thresh) = p, i.e. nothing.
    const one = i32([0, 255], [1, 1, 2]);
    expect(keep(native.ohemCrossEntropy(logits, one, { thresh: 0.5 }).kept).toArray()[0]).toBe(0);
    // Below thresh it is kept.
    const r2 = native.ohemCrossEntropy(logits, one, { thresh: 0.99 });
    expect(keep(r2.kept).toArray()[0]).toBe(1);
    expect(keep(r2.loss).toArray()[0]).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
  });

  it('NaN logits at the threshold give a NaN loss and gradient', () => {
    const x = f32([Number.NaN, 0, 0, 0], [1, 2, 1, 2]);
    const t = i32([0, 0], [1, 1, 2]);
    const o = { minKept: 1 };
    const r = native.ohemCrossEntropy(x, t, o);
    expect(Number.isNaN(keep(r.loss).toArray()[0])).toBe(true);
    expect(Number.isNaN(r.threshold)).toBe(true);
    for (const bo of [o, { ...o, threshold: r.threshold, kept: r.kept }]) {
      const d = keep(native.ohemCrossEntropyBackward(f32([1], []), x, t, bo)).toArray();
      expect(Array.from(d).every((v) => Number.isNaN(v))).toBe(true);
    }
  });

  it('is deterministic across thread counts', () => {
    const c = cases.find((k) => k.name === 'ann_w')!;
    const run = () => keep(native.ohemCrossEntropy(oh.input('ann_w.logits'), oh.input('ann_w.target'), opts(c)).loss).toArray()[0];
    const threads = native.numThreads();
    const a = run();
    native.setNumThreads(1);
    const b = run();
    native.setNumThreads(threads);
    expect(a).toBe(b);
  });
});

describe('loss kernels reject bad input', () => {
  const x = f32(new Array(24).fill(0.5), [1, 3, 2, 4]);
  const t = i32([0, 1, 2, 0, 1, 2, 0, 1], [1, 2, 4]);
  const gone = native.full([1, 3, 2, 4], 1);
  gone.dispose();

  it('softmax family and argmax', () => {
    for (const op of ['softmax', 'logSoftmax', 'argmax'] as const) {
      const f = native[op] as (x: unknown, o?: unknown) => NativeTensor;
      expect(() => f(x, { axis: 4 })).toThrow(new RegExp(`${op}: axis 4 is out of range for x float32 \\[1,3,2,4\\]`));
      expect(() => f(x, { axis: -5 })).toThrow(new RegExp(`${op}: axis -5 is out of range`));
      expect(() => f(x, { axis: 1.5 })).toThrow(new RegExp(`${op}: option 'axis' must be an integer`));
      expect(() => f(t)).toThrow(new RegExp(`${op}: x int32 .*expected dtype float32`));
      expect(() => f(gone)).toThrow(new RegExp(`${op}: tensor 'x' \\[1,3,2,4\\] is disposed`));
      expect(() => f(keep(native.empty([2, 0])))).toThrow(new RegExp(`${op}: .*is empty`));
      expect(() => f([1, 2])).toThrow(new RegExp(`${op}: argument 'x' must be a tensor`));
      expect(() => f(x, 3)).toThrow(new RegExp(`${op}: options must be an object`));
    }
    const y = f32([0.5, 0.5], [2]);
    expect(() => native.softmaxBackward(x, y)).toThrow(/softmaxBackward: dy float32 \[1,3,2,4\] does not match the shape of y float32 \[2\]/);
    expect(() => native.logSoftmaxBackward(y, gone)).toThrow(/logSoftmaxBackward: tensor 'y' .* is disposed/);
    expect(() => native.logSoftmaxBackward(y, y, { axis: 1 })).toThrow(/logSoftmaxBackward: axis 1 is out of range/);
  });

  it('crossEntropy and its backward', () => {
    const f = native.crossEntropy;
    expect(() => f(x, i32([0, 1, 2, 0, 1, 2, 0], [1, 7]))).toThrow(
      /crossEntropy: target int32 \[1,7\] does not match logits float32 \[1,3,2,4\]: expected target shape \[1,2,4\]/,
    );
    expect(() => f(x, i32([0, 1, 2, 0, 1, 3, 0, 1], [1, 2, 4]))).toThrow(
      /crossEntropy: target\[0,1,1\] = 3 is not a class in \[0, 3\) nor ignoreIndex \(-100\)/,
    );
    expect(() => f(x, i32([0, 1, 2, 0, 1, -1, 0, 1], [1, 2, 4]))).toThrow(/crossEntropy: target\[0,1,1\] = -1/);
    expect(f(x, i32([0, 1, 2, 0, 1, -1, 0, 1], [1, 2, 4]), { ignoreIndex: -1 }).loss.shape).toEqual([]);
    expect(() => f(x, keep(native.full([1, 2, 4], 0)))).toThrow(/crossEntropy: target float32 .*expected dtype int32/);
    expect(() => f(f32([1, 2, 3], [3]), i32([0], [1]))).toThrow(/crossEntropy: logits float32 \[3\]: expected rank >= 2/);
    expect(() => f(x, t, { reduction: 'avg' as 'mean' })).toThrow(/crossEntropy: option 'reduction' must be 'mean', 'sum' or 'none', got 'avg'/);
    expect(() => f(x, t, { ignore_index: 255 } as never)).toThrow(
      "crossEntropy: unknown option 'ignore_index' (expected one of weight, ignoreIndex, reduction)",
    );
    expect(() => native.ohemCrossEntropy(x, t, { reduction: 'sum' } as never)).toThrow(
      /^ohemCrossEntropy: unknown option 'reduction' \(expected one of thresh, minKept, weight, ignoreIndex\)/,
    );
    expect(() => native.softmax(x, { dim: 1 } as never)).toThrow(/^softmax: unknown option 'dim' \(expected one of axis\)/);
    expect(() => f(x, t, { weight: f32([1, 1], [2]) })).toThrow(/crossEntropy: weight float32 \[2\] does not match the 3 classes of logits/);
    expect(() => f(x, t, { weight: i32([1, 1, 1], [3]) })).toThrow(/crossEntropy: weight int32 \[3\]: expected dtype float32/);
    expect(() => f(x, t, { weight: [1, 1, 1] as unknown as NativeTensor })).toThrow(/crossEntropy: option 'weight' must be a float32 tensor/);
    expect(() => f(x, t, { weight: gone })).toThrow(/crossEntropy: tensor 'weight' .* is disposed/);
    expect(() => f(x, t, { ignoreIndex: 0.5 })).toThrow(/crossEntropy: option 'ignoreIndex' must be an integer/);
    expect(() => f(gone, t)).toThrow(/crossEntropy: tensor 'logits' .* is disposed/);
    const b = native.crossEntropyBackward;
    expect(() => b(f32([1, 2], [2]), x, t)).toThrow(/crossEntropyBackward: dloss float32 \[2\]: expected one value/);
    expect(() => b(f32([1], [1]), x, t, { reduction: 'none' })).toThrow(/crossEntropyBackward: dloss float32 \[1\]: expected shape \[1,2,4\]/);
    expect(() => b(f32([1], []), x, i32([0, 1, 2, 0, 1, 9, 0, 1], [1, 2, 4]))).toThrow(/crossEntropyBackward: target\[0,1,1\] = 9/);
    expect(() => b(t, x, t)).toThrow(/crossEntropyBackward: dloss int32/);
  });

  it('ohemCrossEntropy and its backward', () => {
    const f = native.ohemCrossEntropy;
    expect(() => f(x, i32([0, 1, 2, 0, 1, 3, 0, 1], [1, 2, 4]))).toThrow(
      /ohemCrossEntropy: target\[0,1,1\] = 3 is not a class in \[0, 3\) nor ignoreIndex \(255\)/,
    );
    expect(() => f(x, t, { minKept: -1 })).toThrow(/ohemCrossEntropy: option 'minKept' must be >= 0, got -1/);
    expect(() => f(x, t, { thresh: Number.NaN })).toThrow(/ohemCrossEntropy: option 'thresh' must be finite/);
    expect(() => f(x, t, { thresh: '0.7' as unknown as number })).toThrow(/ohemCrossEntropy: option 'thresh' must be a number/);
    expect(() => f(x, i32([0, 1], [2]))).toThrow(/ohemCrossEntropy: target int32 \[2\] does not match logits/);
    const b = native.ohemCrossEntropyBackward;
    expect(() => b(f32([1, 2], [2]), x, t)).toThrow(/ohemCrossEntropyBackward: dloss float32 \[2\]: expected one value/);
    expect(() => b(f32([1], []), x, t, { weight: f32([1], [1]) })).toThrow(/ohemCrossEntropyBackward: weight float32 \[1\] does not match/);
    expect(() => b(f32([1], []), x, t, { minKept: 2.5 })).toThrow(/ohemCrossEntropyBackward: option 'minKept' must be an integer/);
    expect(() => b(f32([1], []), x, t, { threshold: 0.7 })).toThrow(/ohemCrossEntropyBackward: options 'threshold' and 'kept' .* go together/);
    expect(() => b(f32([1], []), x, t, { threshold: 0.7, kept: 9 })).toThrow(/ohemCrossEntropyBackward: option 'kept' must be between 0 and the 8 pixels, got 9/);
    expect(() => b(f32([1], []), x, t, { threshold: 0.7, kept: f32([1], []) })).toThrow(/ohemCrossEntropyBackward: option 'kept' must be a number or the forward's int32 \[\] tensor/);
  });
});
