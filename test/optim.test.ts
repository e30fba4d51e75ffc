// sgdStep against torch.optim.SGD (float64 truth, float32 PyTorch error as the yardstick) over
// several steps for every valid option combination, plus bad input.
import { afterAll, describe, expect, it } from 'vitest';

import { native } from '../lib/native/index.js';
import { nativeEmpty, nativeFromArray, nativeFull } from '../lib/tensor.js';
import { disposeAfterAll } from './helpers/dispose.js';
import { Fixture, counted } from './helpers/parity.js';

interface Case {
  key: string;
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  steps: number;
}

const fx = new Fixture('optim');
const cases = JSON.parse(fx.metadata.cases) as Case[];
const k = disposeAfterAll();
afterAll(() => fx.dispose());

describe('sgdStep', () => {
  it.each(counted('optim cases', cases, 9))('$key: lr $lr momentum $momentum dampening $dampening wd $weightDecay nesterov $nesterov', (c) => {
    const param = fx.input(`${c.key}.param`);
    const n = param.size;
    const grads = fx.raw(`${c.key}.grads`).data as Float32Array;
    // The buffer starts as garbage on purpose: firstStep must not read it.
    const buf = c.momentum ? k(nativeFull([n], Number.NaN)) : null;
    for (let s = 0; s < c.steps; s++) {
      const grad = k(nativeFromArray(grads.slice(s * n, (s + 1) * n), [n]));
      native.sgdStep(param, grad, buf, {
        lr: c.lr,
        momentum: c.momentum,
        dampening: c.dampening,
        weightDecay: c.weightDecay,
        nesterov: c.nesterov,
        firstStep: s === 0,
      });
      fx.expect(`${c.key}.step${s}`, param);
    }
    if (buf) fx.expect(`${c.key}.buf`, buf);
  });

  it('updates large parameters identically on any thread count', () => {
    const n = 200_003;
    const g = new Float32Array(n).map((_, i) => Math.sin(i));
    const run = (threads: number) => {
      const saved = native.numThreads();
      native.setNumThreads(threads);
      try {
        const p = k(nativeFull([n], 0.5));
        const b = k(nativeEmpty([n]));
        const grad = k(nativeFromArray(g, [n]));
        for (let s = 0; s < 3; s++)
          native.sgdStep(p, grad, b, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true, firstStep: s === 0 });
        return p.toArray();
      } finally {
        native.setNumThreads(saved);
      }
    };
    const [two, one] = [run(2), run(1)];
    expect(two.length).toBe(one.length);
    for (let i = 0; i < one.length; i++) if (!Object.is(two[i], one[i])) throw new Error(`thread counts differ at ${i}`);
  });

  it('rejects bad tensors and options with clear errors', () => {
    const p = k(nativeFull([4], 1));
    const g = k(nativeFull([4], 1));
    const b = k(nativeFull([4], 0));
    const gone = nativeFull([4], 1);
    gone.dispose();
    expect(() => native.sgdStep(p, k(nativeFull([5], 1)), null, { lr: 0.1 })).toThrow(
      /^sgdStep: grad float32 \[5\]: expected shape \[4\]/,
    );
    expect(() => native.sgdStep(p, g, k(nativeFull([2, 2], 0)), { lr: 0.1, momentum: 0.9, firstStep: true })).toThrow(
      /^sgdStep: momentumBuffer float32 \[2,2\]: expected shape \[4\]/,
    );
    expect(() => native.sgdStep(gone, g, null, { lr: 0.1 })).toThrow(/^sgdStep: .*disposed/);
    expect(() => native.sgdStep(p, k(nativeFull([4], 1, 'int32')), null, { lr: 0.1 })).toThrow(/^sgdStep: .*expected dtype float32/);
    expect(() => native.sgdStep(k(nativeEmpty([0])), g, null, { lr: 0.1 })).toThrow(/^sgdStep: .*empty/);
    expect(() => native.sgdStep(p, g, null, {} as { lr: number })).toThrow(/^sgdStep: option 'lr' is required/);
    for (const lr of [-0.1, Number.NaN, Infinity])
      expect(() => native.sgdStep(p, g, null, { lr })).toThrow(/^sgdStep: option 'lr' must be a finite non-negative number/);
    expect(() => native.sgdStep(p, g, null, { lr: 0.1, momentum: -1 })).toThrow(/^sgdStep: option 'momentum' must be/);
    expect(() => native.sgdStep(p, g, null, { lr: 0.1, weightDecay: -1 })).toThrow(/^sgdStep: option 'weightDecay' must be/);
    expect(() => native.sgdStep(p, g, b, { lr: 0.1, momentum: 0.9, dampening: Number.NaN, firstStep: true })).toThrow(
      /^sgdStep: option 'dampening' must be a finite number/,
    );
    expect(() => native.sgdStep(p, g, null, { lr: 0.1, nesterov: true })).toThrow(
      /^sgdStep: nesterov momentum requires momentum > 0 and dampening 0/,
    );
    expect(() => native.sgdStep(p, g, b, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true, firstStep: true })).toThrow(
      /^sgdStep: nesterov momentum requires/,
    );
    expect(() => native.sgdStep(p, g, null, { lr: 0.1, momentum: 0.9, firstStep: true })).toThrow(
      /^sgdStep: momentum 0.900000 needs a momentumBuffer tensor/,
    );
    expect(() => native.sgdStep(p, g, b, { lr: 0.1, momentum: 0.9 })).toThrow(/^sgdStep: option 'firstStep' is required/);
    expect(() => native.sgdStep(p, g, b, { lr: 0.1, momentum: 0.9, firstStep: 1 as unknown as boolean })).toThrow(
      /^sgdStep: option 'firstStep' must be a boolean/,
    );
    expect(() => native.sgdStep(p, g, b, 3 as unknown as { lr: number })).toThrow(/^sgdStep: options must be an object/);
    expect(() => native.sgdStep(p, g, null, { lr: 0.1, weight_decay: 1e-4 } as never)).toThrow(
      "sgdStep: unknown option 'weight_decay' (expected one of lr, momentum, dampening, weightDecay, nesterov, firstStep)",
    );
    // Nothing above touched the parameter.
    expect(Array.from(p.toArray())).toEqual([1, 1, 1, 1]);
  });

  it('propagates NaN and Inf in gradients as PyTorch does', () => {
    const p = k(nativeFull([3], 1));
    const g = k(nativeFromArray(new Float32Array([Number.NaN, Infinity, 1]), [3]));
    native.sgdStep(p, g, null, { lr: 0.5 });
    expect(Array.from(p.toArray())).toEqual([Number.NaN, -Infinity, 0.5]);
  });
});
