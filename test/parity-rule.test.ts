// The tolerance rule of test/helpers/parity.ts: each magnitude class has its own bound, a single
// tensor's bound is the old per-tensor one, and a one-element error is caught (every Fixture.expect
// also runs that mutation check on our real output; here on the float32-rounded truth).
import { describe, expect, it } from 'vitest';

import { checkParity, CLASS_DECADES, Fixture, FLOOR, mutationEscapes } from './helpers/parity.js';

const rounded = (truth: ArrayLike<number>) => Float32Array.from(truth as ArrayLike<number>);

describe('parity rule', () => {
  it('holds ordinary values of a tensor with a huge element to their own bound (loss_softmax nonfinite)', () => {
    const fx = new Fixture('loss_softmax');
    const truth = fx.raw('nonfinite.logSoftmax.y.f64').data as Float64Array;
    const torch = fx.raw('nonfinite.logSoftmax.y.f32').data as Float32Array;
    const finite = Array.from(truth).filter(Number.isFinite);
    expect(Math.max(...finite.map(Math.abs))).toBeGreaterThan(1e29);
    const ordinary = Array.from(truth).findIndex((t) => Number.isFinite(t) && Math.abs(t) > 0.5 && Math.abs(t) < 10);
    expect(ordinary).toBeGreaterThanOrEqual(0);
    const ours = rounded(truth);
    expect(() => checkParity('exact', ours, truth, torch)).not.toThrow();
    // One max per tensor allowed ~2e24 here; a 1e-3 error on an ordinary value must fail.
    ours[ordinary] += 1e-3;
    expect(() => checkParity('perturbed', ours, truth, torch)).toThrow(/perturbed: max error 1\.0\d*e-3 exceeds .* magnitude class 1e0/);
  });

  it('within one magnitude class it is exactly the per-tensor rule', () => {
    const truth = [0.5, -2, 3e-4, 80];
    const torch = [0.5 + 1e-7, -2, 3e-4, 80 - 4e-6];
    const r = checkParity('one class', truth, truth, torch);
    expect(r.allowed).toBeCloseTo(2 * Math.abs(torch[3] - truth[3]) + FLOOR * 80, 15);
    const edge = Array.from(truth);
    edge[2] += r.allowed * 0.99;
    expect(() => checkParity('edge', edge, truth, torch)).not.toThrow();
    edge[2] += r.allowed * 0.02;
    expect(() => checkParity('edge', edge, truth, torch)).toThrow(/edge: max error/);
  });

  it(`a class sees the errors of classes up to ${CLASS_DECADES} decades above it, not beyond`, () => {
    const big = 10 ** (CLASS_DECADES + 1);
    const truth = [1.5, 10 ** CLASS_DECADES * 2, big * 2];
    const torch = [1.5, 10 ** CLASS_DECADES * 2 + 1e-3, big * 2 + 1];
    const near = Array.from(truth);
    // Class 0's bound: 2 x 1e-3 + FLOOR x 2e3 (the class CLASS_DECADES above), not the top class's ~2.
    near[0] += 3.9e-3;
    expect(() => checkParity('near', near, truth, torch)).not.toThrow();
    near[0] += 0.2e-3;
    expect(() => checkParity('near', near, truth, torch)).toThrow(/near: max error/);
  });

  it('NaN and infinities must match exactly; a non-finite result where the truth is finite fails', () => {
    const truth = [Number.NaN, Infinity, -Infinity, 1];
    expect(() => checkParity('nf', [Number.NaN, Infinity, -Infinity, 1], truth, truth)).not.toThrow();
    expect(() => checkParity('nf', [0, Infinity, -Infinity, 1], truth, truth)).toThrow(/expected NaN at 0/);
    expect(() => checkParity('nf', [Number.NaN, Infinity, Infinity, 1], truth, truth)).toThrow(/expected -Infinity at 2/);
    expect(() => checkParity('nf', [Number.NaN, Infinity, -Infinity, Number.NaN], truth, truth)).toThrow(/got NaN at 3/);
  });

  it("a cancelled sum's one-element error is measured against its rounding scale, not its value", () => {
    // A weight gradient's elements are sums of terms of like size; one cancelled to 0.13 carries the
    // same absolute rounding (5e-4 here, PyTorch's own) as the ones near 500.
    const truth = [527, -310, 0.13];
    const torch = [527 + 5e-4, -310 - 3e-4, 0.13 + 4e-4];
    const scale = [540, 330, 120];
    const ours = rounded(truth);
    // 1e-3 x max(1, 0.13) sits inside the float32 noise every path makes there: no fair rule catches it.
    expect(mutationEscapes(ours, truth, torch)).toEqual([2]);
    // 1e-3 of the terms' magnitudes (0.12) is an error no float32 path makes: it must fail.
    expect(mutationEscapes(ours, truth, torch, undefined, scale)).toEqual([]);
    // Where the scale is below the value (it never is for a real sum) the value's own 1e-3 stands.
    expect(mutationEscapes([1000, 2], [1000, 2], [1000, 2], undefined, [0, 0])).toEqual([]);
  });

  // One fixture of every family: the rounded truth passes, and a 1e-3 error at its smallest and its
  // largest element fails, on every checked tensor.
  const SAMPLE = [
    'attention_b2_n7_s110', 'backbone_r18_grads', 'backbone_r50_grads', 'blocks_afnb_pyramid-avg', 'conv', 'elementwise', 'f_basic',
    'f_nn_ops', 'interp', 'loss_ce', 'loss_ohem', 'loss_softmax', 'norm', 'optim', 'pool_pyramid', 'ann_model_r18_grads', 'ann_model_r50', 'ann_model_r50_grads', 'train_small',
  ];
  it.each(SAMPLE)('%s: a one-element error of relative 1e-3 fails every check', (name) => {
    const fx = new Fixture(name);
    let checked = 0;
    for (const key of fx.tensors.keys()) {
      if (!key.endsWith('.f64')) continue;
      const base = key.slice(0, -4);
      const { truth, torch, alt, scale } = fx.references(base);
      const ours = rounded(truth);
      checkParity(`${name}:${base}`, ours, truth, torch, alt);
      expect(mutationEscapes(ours, truth, torch, alt, scale), `${name}:${base}`).toEqual([]);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });
});
