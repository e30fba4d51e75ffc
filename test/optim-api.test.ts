// optim.SGD and optim.PolyLR against torch.optim.SGD + a poly LambdaLR, with given gradients,
// and exact resumption from state dicts.
import { describe, expect, it } from 'vitest';

import { native } from '../lib/native/index.js';
import { PolyLR, SGD, type SGDOptions } from '../lib/optim/index.js';
import { Tensor, tensor } from '../lib/tensor.js';
import { Fixture } from './helpers/parity.js';

const fx = new Fixture('optim_schedule');
const STEPS = Number(fx.metadata.steps);
const MAX_ITERS = Number(fx.metadata.max_iters);
const CONFIGS: Record<string, SGDOptions> = {
  plain: { lr: 0.1 },
  momentum_wd: { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  nesterov: { lr: 0.05, momentum: 0.8, weightDecay: 1e-3, nesterov: true },
};

function params(): Tensor[] {
  return [0, 1].map((i) => new Tensor(fx.input(`p0.${i}`).clone(), true));
}

function setGrads(ps: Tensor[], step: number): void {
  ps.forEach((p, i) => {
    p.grad?.dispose();
    p.grad = new Tensor(fx.input(`grad.${step}.${i}`).clone());
  });
}

describe('optim.SGD with optim.PolyLR', () => {
  for (const [name, cfg] of Object.entries(CONFIGS)) {
    it(`matches torch.optim.SGD (${name}) over ${STEPS} poly-scheduled steps`, () => {
      const before = native.memory().numTensors;
      const ps = params();
      const opt = new SGD(ps, cfg);
      const sched = new PolyLR(opt, { maxIters: MAX_ITERS, power: 0.9 });
      const lrs = fx.numbers(`${name}.lr`);
      for (let s = 0; s < STEPS; s++) {
        setGrads(ps, s);
        opt.step();
        sched.step();
        expect(opt.lr).toBeCloseTo(lrs[s], 12);
        ps.forEach((p, i) => fx.expect(`${name}.step${s}.p${i}`, p.native));
      }
      opt.zeroGrad();
      expect(ps.every((p) => p.grad === null)).toBe(true);
      opt.dispose();
      ps.forEach((p) => p.dispose());
      fx.dispose();
      expect(native.memory().numTensors).toBe(before);
    });
  }

  it('resumes exactly from its state dicts', () => {
    const cfg = CONFIGS.nesterov;
    const straight = params();
    const o1 = new SGD(straight, cfg);
    const s1 = new PolyLR(o1, { maxIters: MAX_ITERS });
    for (let s = 0; s < STEPS; s++) {
      setGrads(straight, s);
      o1.step();
      s1.step();
    }
    const resumed = params();
    const o2 = new SGD(resumed, cfg);
    const s2 = new PolyLR(o2, { maxIters: MAX_ITERS });
    for (let s = 0; s < 3; s++) {
      setGrads(resumed, s);
      o2.step();
      s2.step();
    }
    const o3 = new SGD(resumed, { lr: 123 });
    o3.loadStateDict(o2.stateDict());
    const s3 = new PolyLR(o3, { maxIters: MAX_ITERS });
    s3.loadStateDict(s2.stateDict());
    o2.dispose();
    for (let s = 3; s < STEPS; s++) {
      setGrads(resumed, s);
      o3.step();
      s3.step();
    }
    expect(o3.lr).toBe(o1.lr);
    resumed.forEach((p, i) => expect(Array.from(p.toFloat32Array())).toEqual(Array.from(straight[i].toFloat32Array())));
    for (const t of [...straight, ...resumed]) {
      t.grad?.dispose();
      t.dispose();
    }
    o1.dispose();
    o3.dispose();
    fx.dispose();
  });

  it('also takes its parameters inside the options object', () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    p.grad = tensor([1, 1], [2]);
    const opt = new SGD({ params: [p], lr: 0.5 });
    opt.step();
    expect(Array.from(p.toFloat32Array())).toEqual([0.5, 1.5]);
    expect(() => new SGD({ lr: 0.1 } as unknown as { params: Tensor[]; lr: number })).toThrow(/expected \(params, \{ lr, ... \}\)/);
    opt.zeroGrad();
    p.dispose();
  });

  it('rejects bad options and states with clear errors', () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    const c = tensor([1, 2], [2]);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/SGD: got an empty parameter list/);
    expect(() => new SGD([c], { lr: 0.1 })).toThrow(/requires grad/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/more than once/);
    expect(() => new SGD([p], { lr: -1 })).toThrow(/lr must be/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov momentum requires momentum > 0/);
    const opt = new SGD([p], { lr: 0.1 });
    expect(() => new PolyLR(opt, { maxIters: 0 })).toThrow(/maxIters must be a positive integer/);
    expect(() => opt.loadStateDict({ options: opt.options, steps: 0, momentumBuffers: [] })).toThrow(/0 buffers for 1 parameters/);
    const sched = new PolyLR(opt, { maxIters: 10 });
    expect(() => sched.loadStateDict({ baseLr: Number.NaN, lastIter: 1 })).toThrow(/malformed state/);
    p.dispose();
    c.dispose();
  });
});
