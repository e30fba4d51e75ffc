// The tape's semantics: accumulation, freeing, scopes and errors. Per-op gradients are checked
// against PyTorch in the op tests; here the values are small enough to check by hand.
import { describe, expect, it } from 'vitest';

import { keep, tidy } from '../lib/autograd/scope.js';
import { noGrad } from '../lib/autograd/tape.js';
import { native } from '../lib/native/index.js';
import * as F from '../lib/ops/arith.js';
import { nativeFromArray, Tensor } from '../lib/tensor.js';

const t = (data: number[], shape: number[], requiresGrad = false) =>
  new Tensor(nativeFromArray(new Float32Array(data), shape), requiresGrad);

describe('autograd tape', () => {
  it('computes and accumulates gradients of sum(relu(x + b) * x) with a broadcast b', () => {
    const before = native.memory().numTensors;
    const x = t([1, -2, 3, 4], [2, 2], true);
    const b = t([0.5, 2], [2], true);
    for (let step = 1; step <= 2; step++) {
      const loss = tidy(() => F.sum(F.mul(F.relu(F.add(x, b)), x)));
      // relu(x+b) = [1.5, 0, 3.5, 6]; loss = 1.5 + 0 + 10.5 + 24
      expect(loss.item()).toBe(36);
      loss.backward();
      loss.dispose();
      // d/dx = relu(x+b) + x * [x+b>0] = [2.5, 0, 6.5, 10]; d/db = column sums of x * [x+b>0] = [4, 4]
      expect(Array.from(x.grad!.toFloat32Array())).toEqual([2.5, 0, 6.5, 10].map((v) => v * step));
      expect(Array.from(b.grad!.toFloat32Array())).toEqual([4, 4].map((v) => v * step));
    }
    for (const p of [x, b]) {
      p.grad!.dispose();
      p.dispose();
    }
    expect(native.memory().numTensors).toBe(before);
  });

  it('adds both contributions when a tensor is used twice in one op', () => {
    const x = t([3], [1], true);
    const y = F.mul(x, x);
    y.backward();
    expect(x.grad!.item()).toBe(6);
    const z = F.add(x, x);
    z.backward();
    expect(x.grad!.item()).toBe(8);
    for (const v of [x.grad!, x, y, z]) v.dispose();
  });

  it('frees saved tensors when backward runs and refuses a second backward', () => {
    const x = t([1, 2], [2], true);
    const before = native.memory().numTensors;
    const loss = tidy(() => F.sum(F.relu(F.scale(x, 2))));
    // The relu output is saved for backward: it outlives the tidy scope until backward runs.
    expect(native.memory().numTensors - before).toBe(2);
    loss.backward();
    expect(native.memory().numTensors - before).toBe(2); // loss and x.grad
    expect(() => loss.backward()).toThrow(/already freed/);
    for (const v of [loss, x.grad!, x]) v.dispose();
  });

  it('needs a gradient for a non-scalar and a graph to walk', () => {
    const x = t([1, 2], [2], true);
    const y = F.scale(x, 3);
    expect(() => y.backward()).toThrow(/not a scalar/);
    const g = t([1, 1, 1], [3]);
    expect(() => y.backward(g)).toThrow(/gradient shape \[3\] does not match tensor shape \[2\]/);
    const c = t([1], [1]);
    expect(() => c.backward()).toThrow(/does not require grad/);
    for (const v of [x, y, g, c]) v.dispose();
  });

  it('records nothing under noGrad', () => {
    const x = t([1, 2], [2], true);
    const y = noGrad(() => F.scale(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    x.dispose();
    y.dispose();
  });

  it('tidy frees what fn made except its result and kept tensors, and refuses a Promise', () => {
    const before = native.memory().numTensors;
    let kept: Tensor | null = null;
    const out = tidy(() => {
      const a = t([1, 2, 3], [3]);
      kept = keep(F.scale(a, 2));
      return { sum: F.sum(a), list: [F.scale(a, 3)] };
    });
    expect(native.memory().numTensors - before).toBe(3);
    expect(out.sum.item()).toBe(6);
    expect(Array.from(kept!.toFloat32Array())).toEqual([2, 4, 6]);
    for (const v of [out.sum, out.list[0], kept!]) v.dispose();
    expect(native.memory().numTensors).toBe(before);
    expect(() => tidy(() => Promise.resolve(1) as unknown as number)).toThrow(/returned a Promise/);
    expect(() => tidy(() => { t([1], [1]); throw new Error('boom'); })).toThrow('boom');
    expect(native.memory().numTensors).toBe(before);
  });

  it('names the tensor used after dispose', () => {
    const x = t([1], [1]);
    x.dispose();
    expect(() => x.shape).toThrow(/used after dispose/);
    expect(() => F.scale(x, 2)).toThrow(/used after dispose/);
  });
});

describe('graphs that are never backpropagated', () => {
  const w = () => t([0.5, -1, 2], [3], true);

  it('are freed when their output is disposed, without waiting for GC', () => {
    const weight = w();
    const before = native.memory().numTensors;
    const y = tidy(() => F.sum(F.relu(F.mul(F.scale(weight, 2), weight))));
    expect(native.memory().numTensors - before).toBeGreaterThan(1); // relu's saved output, mul's inputs
    y.dispose();
    expect(native.memory().numTensors).toBe(before);
    weight.dispose();
  });

  it('keep what a live output still needs: disposing one head leaves the other trainable', () => {
    const weight = w();
    const before = native.memory().numTensors;
    const { a, b } = tidy(() => {
      const trunk = F.relu(F.mul(weight, weight));
      return { a: F.sum(F.scale(trunk, 3)), b: F.sum(F.mul(trunk, trunk)) };
    });
    a.dispose();
    b.backward();
    // d/dw sum(relu(w^2)^2) = 4 w^3
    expect(Array.from(weight.grad!.toFloat32Array())).toEqual([0.5, -4, 32]);
    b.dispose();
    weight.grad!.dispose();
    weight.grad = null;
    expect(native.memory().numTensors).toBe(before);
    weight.dispose();
  });
});

describe('number operands', () => {
  it('act as 0-d tensors in add, sub, mul and div, with gradients and no leak', () => {
    const x = t([1, 2, 4], [3], true);
    const before = native.memory().numTensors;
    const y = tidy(() => F.sum(F.div(F.sub(F.mul(F.add(1, x), 3), 0.5), 4)));
    // ((x + 1) * 3 - 0.5) / 4 summed: (5.5 + 8.5 + 14.5) / 4
    expect(y.item()).toBe(7.125);
    y.backward();
    expect(Array.from(x.grad!.toFloat32Array())).toEqual([0.75, 0.75, 0.75]);
    y.dispose();
    x.grad!.dispose();
    x.grad = null;
    expect(native.memory().numTensors).toBe(before);
    const z = F.sub(10, x);
    expect(Array.from(z.toFloat32Array())).toEqual([9, 8, 6]);
    z.dispose();
    expect(native.memory().numTensors).toBe(before);
    x.dispose();
  });
});
