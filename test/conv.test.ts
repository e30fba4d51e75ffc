// conv2d / conv2dBackward against PyTorch (test/reference/conv.py), on the pool and on one thread
// (the two take different paths: images in parallel vs one image split over the pool).
import { afterAll, describe, expect, it } from 'vitest';

import { native, type NativeTensor } from '../lib/native/index.js';
import type { Conv2dOptions } from '../lib/native/kernels/conv.js';
import { nativeEmpty, nativeFromArray, nativeFull } from '../lib/tensor.js';
import { Fixture, counted } from './helpers/parity.js';

const fx = new Fixture('conv');
afterAll(() => fx.dispose());
const threads = native.numThreads();

interface CaseMeta extends Conv2dOptions {
  bias: boolean;
}
const cases = Object.entries(fx.metadata).map(([name, json]) => ({ name, meta: JSON.parse(json) as CaseMeta }));

function geometry(m: CaseMeta): Conv2dOptions {
  return { stride: m.stride, padding: m.padding, dilation: m.dilation };
}

function disposeAll(...ts: (NativeTensor | undefined)[]): void {
  for (const t of ts) t?.dispose();
}

describe.each([
  ['the pool', threads],
  ['one thread', 1],
])('conv2d parity on %s', (_label, n) => {
  it.each(counted('conv cases', cases, 25))('$name: forward and every gradient', ({ name, meta }) => {
    native.setNumThreads(n);
    try {
      const x = fx.input(`${name}.x`);
      const w = fx.input(`${name}.weight`);
      const b = meta.bias ? fx.input(`${name}.bias`) : null;
      const dy = fx.input(`${name}.dy`);
      const y = native.conv2d(x, w, b, geometry(meta));
      fx.expect(`${name}.y`, y);
      const g = native.conv2dBackward(dy, x, w, geometry(meta));
      fx.expect(`${name}.dx`, g.dx!);
      fx.expect(`${name}.dweight`, g.dweight!);
      if (meta.bias) fx.expect(`${name}.dbias`, g.dbias!);
      disposeAll(y, g.dx, g.dweight, g.dbias);
    } finally {
      native.setNumThreads(threads);
    }
  });
});

describe('conv2dBackward', () => {
  it('returns only the gradients asked for, each equal to the full call', () => {
    const name = 'k3_dil2_pad2';
    const meta = cases.find((c) => c.name === name)!.meta;
    const x = fx.input(`${name}.x`);
    const w = fx.input(`${name}.weight`);
    const dy = fx.input(`${name}.dy`);
    const full = native.conv2dBackward(dy, x, w, geometry(meta));
    const onlyW = native.conv2dBackward(dy, x, w, { ...geometry(meta), needInput: false, needBias: false });
    expect(Object.keys(onlyW)).toEqual(['dweight']);
    expect(onlyW.dweight!.toArray()).toEqual(full.dweight!.toArray());
    const onlyX = native.conv2dBackward(dy, x, w, { ...geometry(meta), needWeight: false, needBias: false });
    expect(Object.keys(onlyX)).toEqual(['dx']);
    expect(onlyX.dx!.toArray()).toEqual(full.dx!.toArray());
    const onlyB = native.conv2dBackward(dy, x, w, { ...geometry(meta), needInput: false, needWeight: false });
    expect(Object.keys(onlyB)).toEqual(['dbias']);
    fx.expect(`${name}.dbias`, onlyB.dbias!);
    disposeAll(full.dx, full.dweight, full.dbias, onlyW.dweight, onlyX.dx, onlyB.dbias);
  });

  it('is deterministic', () => {
    const name = 'nonsquare';
    const meta = cases.find((c) => c.name === name)!.meta;
    const x = fx.input(`${name}.x`);
    const w = fx.input(`${name}.weight`);
    const dy = fx.input(`${name}.dy`);
    const a = native.conv2dBackward(dy, x, w, geometry(meta));
    const b = native.conv2dBackward(dy, x, w, geometry(meta));
    expect(a.dx!.toArray()).toEqual(b.dx!.toArray());
    expect(a.dweight!.toArray()).toEqual(b.dweight!.toArray());
    expect(a.dbias!.toArray()).toEqual(b.dbias!.toArray());
    disposeAll(a.dx, a.dweight, a.dbias, b.dx, b.dweight, b.dbias);
  });

  it('gives the same result with large images split over the pool as on one thread', () => {
    // Big enough per image (> 2e7 flops) that each image's im2col and GEMMs are split over the pool.
    const rand = (shape: number[], seed: number) => {
      let s = seed;
      const d = new Float32Array(shape.reduce((p, q) => p * q, 1));
      for (let i = 0; i < d.length; i++) {
        s = (s * 1664525 + 1013904223) >>> 0;
        d[i] = s / 2 ** 32 - 0.5;
      }
      return nativeFromArray(d, shape);
    };
    const x = rand([3, 32, 41, 40], 1);
    const w = rand([64, 32, 3, 3], 2);
    const dy = rand([3, 64, 41, 40], 3);
    const opts = { padding: 2, dilation: 2 };
    const y1 = native.conv2d(x, w, null, opts);
    const g1 = native.conv2dBackward(dy, x, w, opts);
    native.setNumThreads(1);
    let y2: NativeTensor, g2: ReturnType<typeof native.conv2dBackward>;
    try {
      y2 = native.conv2d(x, w, null, opts);
      g2 = native.conv2dBackward(dy, x, w, opts);
    } finally {
      native.setNumThreads(threads);
    }
    const close = (a: NativeTensor, b: NativeTensor) => {
      const p = a.toArray();
      const q = b.toArray();
      let err = 0;
      let scale = 0;
      for (let i = 0; i < p.length; i++) {
        err = Math.max(err, Math.abs(p[i] - q[i]));
        scale = Math.max(scale, Math.abs(q[i]));
      }
      expect(err).toBeLessThanOrEqual(1e-5 * scale);
    };
    close(y1, y2);
    close(g1.dx!, g2.dx!);
    close(g1.dweight!, g2.dweight!);
    close(g1.dbias!, g2.dbias!);
    disposeAll(x, w, dy, y1, y2, g1.dx, g1.dweight, g1.dbias, g2.dx, g2.dweight, g2.dbias);
  });
});

describe('conv2d bad input', () => {
  const x = nativeFull([2, 3, 5, 5], 1);
  const w = nativeFull([4, 3, 3, 3], 1);
  afterAll(() => disposeAll(x, w));

  it('rejects mismatched channels, bias length and ranks', () => {
    const w2 = nativeFull([4, 2, 3, 3], 1);
    expect(() => native.conv2d(x, w2, null)).toThrow(
      'conv2d: x float32 [2,3,5,5] has 3 channels but weight float32 [4,2,3,3] expects 2',
    );
    const b = nativeFull([3], 0);
    expect(() => native.conv2d(x, w, b)).toThrow(/^conv2d: bias float32 \[3\] must have 4 entries/);
    expect(() => native.conv2d(nativeFull([3, 5, 5], 1), w, null)).toThrow(/^conv2d: x .*expected rank 4/);
    expect(() => native.conv2d(x, nativeFull([4, 3, 3], 1), null)).toThrow(/^conv2d: weight .*expected rank 4/);
    expect(() => native.conv2d(x, w, nativeFull([4, 1], 1))).toThrow(/^conv2d: bias .*expected rank 1/);
    disposeAll(w2, b);
  });

  it('rejects bad geometry', () => {
    expect(() => native.conv2d(x, w, null, { stride: 0 })).toThrow(/^conv2d: stride must be >= 1, got \[0,0\]/);
    expect(() => native.conv2d(x, w, null, { dilation: [1, 0] })).toThrow(/^conv2d: dilation must be >= 1/);
    expect(() => native.conv2d(x, w, null, { padding: -1 })).toThrow(/^conv2d: padding must be >= 0/);
    expect(() => native.conv2d(x, w, null, { dilation: 3 })).toThrow(/^conv2d: output size \[-?\d+,-?\d+\] is not positive/);
    expect(() => native.conv2d(x, w, null, { stride: 1.5 })).toThrow(/^conv2d: option 'stride' must be an integer/);
    expect(() => native.conv2d(x, w, null, { stride: [1, 2, 3] as unknown as number })).toThrow(/^conv2d: .*pair/);
    expect(() => native.conv2d(x, w, null, { padding: 1e9 })).toThrow(/^conv2d: stride, padding and dilation must be at most/);
    expect(() => native.conv2d(x, w, null, 'x' as unknown as Conv2dOptions)).toThrow(/^conv2d: options must be an object/);
  });

  it('rejects unknown option names instead of using a default', () => {
    expect(() => native.conv2d(x, w, null, { groups: 2 } as never)).toThrow(
      "conv2d: unknown option 'groups' (expected one of stride, padding, dilation)",
    );
    const dy = nativeFull([2, 4, 3, 3], 1);
    expect(() => native.conv2dBackward(dy, x, w, { needInputs: false } as never)).toThrow(
      /^conv2dBackward: unknown option 'needInputs' \(expected one of stride, padding, dilation, needInput, needWeight, needBias\)/,
    );
    dy.dispose();
  });

  it('rejects wrong dtypes, empty, disposed and non-tensor arguments', () => {
    const xi = nativeFull([2, 3, 5, 5], 1, 'int32');
    expect(() => native.conv2d(xi, w, null)).toThrow(/^conv2d: x int32 .*expected dtype float32/);
    const empty = nativeEmpty([0, 3, 5, 5]);
    expect(() => native.conv2d(empty, w, null)).toThrow(/^conv2d: x .* is empty/);
    const gone = nativeFull([2, 3, 5, 5], 1);
    gone.dispose();
    expect(() => native.conv2d(gone, w, null)).toThrow(/^conv2d: tensor 'x' \[2,3,5,5\] is disposed/);
    expect(() => native.conv2d([1, 2] as unknown as NativeTensor, w, null)).toThrow(/^conv2d: argument 'x' must be a tensor/);
    disposeAll(xi, empty);
  });

  it('conv2dBackward checks dy against the forward geometry and its flags', () => {
    const dy = nativeFull([2, 4, 3, 3], 1);
    expect(() => native.conv2dBackward(dy, x, w, { padding: 1 })).toThrow(
      /^conv2dBackward: dy float32 \[2,4,3,3\]: expected shape \[2,4,5,5\]/,
    );
    expect(() => native.conv2dBackward(dy, x, w, { needInput: 1 as unknown as boolean })).toThrow(
      /^conv2dBackward: option 'needInput' must be a boolean/,
    );
    expect(() => native.conv2dBackward(dy, x, nativeFull([4, 2, 3, 3], 1))).toThrow(/^conv2dBackward: x .* has 3 channels/);
    const g = native.conv2dBackward(dy, x, w);
    expect(g.dx!.shape).toEqual([2, 3, 5, 5]);
    disposeAll(dy, g.dx, g.dweight, g.dbias);
  });
});
