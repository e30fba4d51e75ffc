// batchNorm / batchNormBackward against PyTorch (test/reference/norm.py): outputs, saved
// statistics, in-place running-stat updates and every gradient, in training and evaluation.
import { afterAll, describe, expect, it } from 'vitest';

import { native, type NativeTensor } from '../lib/native/index.js';
import type { BatchNormOptions } from '../lib/native/kernels/norm.js';
import { nativeEmpty, nativeFull } from '../lib/tensor.js';
import { Fixture, counted } from './helpers/parity.js';

const fx = new Fixture('norm');
afterAll(() => fx.dispose());

interface CaseMeta {
  training: boolean;
  momentum: number;
  eps: number;
  affine: boolean;
  running: boolean;
}
const cases = Object.entries(fx.metadata).map(([name, json]) => ({ name, meta: JSON.parse(json) as CaseMeta }));

function disposeAll(...ts: (NativeTensor | undefined | null)[]): void {
  for (const t of ts) t?.dispose();
}

describe('batchNorm parity', () => {
  it.each(counted('norm cases', cases, 10))('$name: output, statistics, running stats and every gradient', ({ name, meta }) => {
    const x = fx.input(`${name}.x`);
    const dy = fx.input(`${name}.dy`);
    const w = meta.affine ? fx.input(`${name}.weight`) : null;
    const b = meta.affine ? fx.input(`${name}.bias`) : null;
    const rm = meta.running ? fx.input(`${name}.running_mean_in`) : null;
    const rv = meta.running ? fx.input(`${name}.running_var_in`) : null;
    const r = native.batchNorm(x, w, b, rm, rv, { training: meta.training, momentum: meta.momentum, eps: meta.eps });
    fx.expect(`${name}.y`, r.y);
    fx.expect(`${name}.save_mean`, r.saveMean);
    fx.expect(`${name}.save_invstd`, r.saveInvstd);
    if (rm && rv) {
      fx.expect(`${name}.running_mean`, rm);
      fx.expect(`${name}.running_var`, rv);
    }
    const g = native.batchNormBackward(dy, x, w, r.saveMean, r.saveInvstd, { training: meta.training });
    fx.expect(`${name}.dx`, g.dx!);
    if (meta.affine) {
      fx.expect(`${name}.dweight`, g.dweight!);
      fx.expect(`${name}.dbias`, g.dbias!);
    }
    disposeAll(r.y, r.saveMean, r.saveInvstd, g.dx, g.dweight, g.dbias);
  });

  it('leaves the running statistics alone in evaluation', () => {
    const x = fx.input('eval_affine.x');
    const rm = fx.input('eval_affine.running_mean_in');
    const rv = fx.input('eval_affine.running_var_in');
    const before = [rm.toArray(), rv.toArray()];
    const r = native.batchNorm(x, null, null, rm, rv, { training: false });
    expect(rm.toArray()).toEqual(before[0]);
    expect(rv.toArray()).toEqual(before[1]);
    disposeAll(r.y, r.saveMean, r.saveInvstd);
  });

  it('returns only the gradients asked for', () => {
    const name = 'train_affine';
    const x = fx.input(`${name}.x`);
    const dy = fx.input(`${name}.dy`);
    const w = fx.input(`${name}.weight`);
    const r = native.batchNorm(x, w, null, null, null, { training: true });
    const onlyX = native.batchNormBackward(dy, x, w, r.saveMean, r.saveInvstd, {
      training: true,
      needWeight: false,
      needBias: false,
    });
    expect(Object.keys(onlyX)).toEqual(['dx']);
    fx.expect(`${name}.dx`, onlyX.dx!);
    const onlyW = native.batchNormBackward(dy, x, w, r.saveMean, r.saveInvstd, { training: true, needInput: false });
    expect(Object.keys(onlyW).sort()).toEqual(['dbias', 'dweight']);
    fx.expect(`${name}.dweight`, onlyW.dweight!);
    fx.expect(`${name}.dbias`, onlyW.dbias!);
    disposeAll(r.y, r.saveMean, r.saveInvstd, onlyX.dx, onlyW.dweight, onlyW.dbias);
  });
});

describe('batchNorm bad input', () => {
  const x = nativeFull([2, 3, 4, 4], 1);
  const c3 = nativeFull([3], 1);
  const c4 = nativeFull([4], 1);
  afterAll(() => disposeAll(x, c3, c4));
  const train: BatchNormOptions = { training: true };

  it('rejects wrong ranks and per-channel shapes', () => {
    const x1 = nativeFull([6], 1);
    expect(() => native.batchNorm(x1, null, null, null, null, train)).toThrow(/^batchNorm: x float32 \[6\]: expected rank 2, 3 or 4/);
    const x5 = nativeFull([1, 2, 1, 1, 2], 1);
    expect(() => native.batchNorm(x5, null, null, null, null, train)).toThrow(/^batchNorm: .*expected rank 2, 3 or 4/);
    expect(() => native.batchNorm(x, c4, null, null, null, train)).toThrow(
      'batchNorm: weight float32 [4] must have shape [3] for x float32 [2,3,4,4]',
    );
    expect(() => native.batchNorm(x, null, c4, null, null, train)).toThrow(/^batchNorm: bias float32 \[4\] must have shape \[3\]/);
    expect(() => native.batchNorm(x, null, null, c4, c3, train)).toThrow(/^batchNorm: runningMean float32 \[4\]/);
    expect(() => native.batchNorm(x, null, null, c3, null, train)).toThrow(/^batchNorm: runningMean and runningVar must be given together/);
    expect(() => native.batchNorm(x, null, null, c3, c3, train)).toThrow(/^batchNorm: runningMean and runningVar must be distinct/);
    disposeAll(x1, x5);
  });

  it('rejects bad options and one value per channel in training', () => {
    expect(() => native.batchNorm(x, null, null, null, null, {} as BatchNormOptions)).toThrow(
      /^batchNorm: option 'training' \(a boolean\) is required/,
    );
    expect(() => native.batchNorm(x, null, null, null, null, { training: false })).toThrow(
      /^batchNorm: evaluation mode needs runningMean and runningVar/,
    );
    expect(() => native.batchNorm(x, null, null, null, null, { training: true, momentum: 2 })).toThrow(/^batchNorm: momentum must be in \[0, 1\]/);
    expect(() => native.batchNorm(x, null, null, null, null, { training: true, eps: -1 })).toThrow(/^batchNorm: eps must be/);
    expect(() => native.batchNorm(x, null, null, null, null, { training: true, eps: Number.NaN })).toThrow(/^batchNorm: eps must be/);
    expect(() => native.batchNorm(x, null, null, null, null, { training: true, epsilon: 1e-3 } as never)).toThrow(
      "batchNorm: unknown option 'epsilon' (expected one of training, momentum, eps)",
    );
    const one = nativeFull([1, 3, 1, 1], 1);
    expect(() => native.batchNorm(one, null, null, null, null, train)).toThrow(
      'batchNorm: Expected more than 1 value per channel when training, got x float32 [1,3,1,1]',
    );
    const r = native.batchNorm(one, null, null, c3.clone(), c3.clone(), { training: false });
    expect(r.y.shape).toEqual([1, 3, 1, 1]);
    disposeAll(one, r.y, r.saveMean, r.saveInvstd);
  });

  it('rejects wrong dtypes, empty, disposed and non-tensor arguments', () => {
    const xi = nativeFull([2, 3], 1, 'int32');
    expect(() => native.batchNorm(xi, null, null, null, null, train)).toThrow(/^batchNorm: x int32 .*expected dtype float32/);
    const empty = nativeEmpty([0, 3, 2, 2]);
    expect(() => native.batchNorm(empty, null, null, null, null, train)).toThrow(/^batchNorm: x .* is empty/);
    const gone = nativeFull([3], 1);
    gone.dispose();
    expect(() => native.batchNorm(x, gone, null, null, null, train)).toThrow(/^batchNorm: tensor 'weight' \[3\] is disposed/);
    expect(() => native.batchNorm(x, 3 as unknown as NativeTensor, null, null, null, train)).toThrow(
      /^batchNorm: argument 'weight' must be a tensor/,
    );
    disposeAll(xi, empty);
  });

  it('batchNormBackward checks every argument', () => {
    const dy = nativeFull([2, 3, 4, 5], 1);
    expect(() => native.batchNormBackward(dy, x, null, c3, c3, train)).toThrow(
      /^batchNormBackward: dy float32 \[2,3,4,5\]: expected shape \[2,3,4,4\]/,
    );
    expect(() => native.batchNormBackward(x, x, null, c4, c3, train)).toThrow(/^batchNormBackward: saveMean float32 \[4\] must have shape \[3\]/);
    expect(() => native.batchNormBackward(x, x, c4, c3, c3, train)).toThrow(/^batchNormBackward: weight float32 \[4\]/);
    expect(() => native.batchNormBackward(x, x, null, null as unknown as NativeTensor, c3, train)).toThrow(
      /^batchNormBackward: argument 'saveMean' must be a tensor/,
    );
    expect(() => native.batchNormBackward(x, x, null, c3, c3, {} as BatchNormOptions)).toThrow(/^batchNormBackward: option 'training'/);
    expect(() => native.batchNormBackward(x, x, null, c3, c3, { training: true, needBias: 'yes' as unknown as boolean })).toThrow(
      /^batchNormBackward: option 'needBias' must be a boolean/,
    );
    disposeAll(dy);
  });
});
