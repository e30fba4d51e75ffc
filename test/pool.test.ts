import { afterAll, describe, expect, it } from 'vitest';

import { native, type NativeTensor } from '../lib/native/index.js';
import type { MaxPool2dOptions, PyramidMode } from '../lib/native/kernels/pool.js';
import { disposeAfterAll } from './helpers/dispose.js';
import { Fixture } from './helpers/parity.js';

const keep = disposeAfterAll();

function same(a: NativeTensor, b: NativeTensor): boolean {
  const x = a.toArray();
  const y = b.toArray();
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
}

/** PyTorch's adaptive pooling bin along one axis. */
const bin = (i: number, len: number, n: number) => [Math.floor((i * len) / n), Math.ceil(((i + 1) * len) / n)];

describe('maxPool2d (PyTorch max_pool2d)', () => {
  const fx = new Fixture('pool_max2d');
  afterAll(() => fx.dispose());
  const cases = JSON.parse(fx.metadata.cases) as (MaxPool2dOptions & { name: string })[];

  for (const { name, ...opts } of cases) {
    it(`${name}: forward, indices and input gradient`, () => {
      const x = fx.input(`${name}.x`);
      const { y, indices } = native.maxPool2d(x, opts);
      keep(y);
      keep(indices);
      fx.expect(`${name}.y`, y);
      expect(indices.dtype).toBe('int32');
      expect(Array.from(indices.toArray())).toEqual(fx.numbers(`${name}.indices`));
      const dy = fx.input(`${name}.dy`);
      const dx = keep(native.maxPool2dBackward(dy, indices, x.shape));
      fx.expect(`${name}.dx`, dx);
      expect(same(dx, keep(native.maxPool2dBackward(dy, indices, x.shape)))).toBe(true);
    });
  }

  it('backward accepts indices in any order (each plane zeroed ahead of the scatter)', () => {
    const [h, w] = [5, 6];
    const idx = Int32Array.from({ length: 2 * 3 * 4 }, (_, k) => (k * 17 + 5) % (h * w));
    const dy = Float32Array.from({ length: idx.length }, (_, k) => k + 1);
    const dx = keep(native.maxPool2dBackward(keep(native.fromArray(dy, [2, 1, 3, 4])), keep(native.fromArray(idx, [2, 1, 3, 4])), [2, 1, h, w]));
    const want = new Float32Array(2 * h * w);
    idx.forEach((v, k) => (want[Math.floor(k / 12) * h * w + v] += dy[k]));
    expect(Array.from(dx.toArray())).toEqual(Array.from(want));
  });

  it('follows PyTorch output-size rule (ceil_mode last-window rule included) over many sizes', () => {
    const table = JSON.parse(fx.metadata.sizes) as number[][];
    for (const [h, k, s, p, d, ceil, out] of table) {
      const x = native.full([1, 1, h, 1], 0);
      const opts = { kernelSize: [k, 1], stride: [s, 1], padding: [p, 0], dilation: [d, 1], ceilMode: ceil === 1 } as MaxPool2dOptions;
      const label = `H=${h} k=${k} s=${s} p=${p} d=${d} ceil=${ceil}`;
      if (out < 0) {
        expect(() => native.maxPool2d(x, opts), label).toThrow(/maxPool2d: .*too small/);
      } else {
        const r = native.maxPool2d(x, opts);
        expect(r.y.shape, label).toEqual([1, 1, out, 1]);
        r.y.dispose();
        r.indices.dispose();
      }
      x.dispose();
    }
  });
});

describe('pyramidPool (fused adaptive pooling levels)', () => {
  const fx = new Fixture('pool_pyramid');
  afterAll(() => fx.dispose());
  const cases = JSON.parse(fx.metadata.cases) as { name: string; sizes: number[]; mode: PyramidMode }[];

  for (const { name, sizes, mode } of cases) {
    it(`${name}: forward${mode === 'max' ? ', indices' : ''} and input gradient`, () => {
      const x = fx.input(`${name}.x`);
      const r = native.pyramidPool(x, { sizes, mode });
      keep(r.y);
      fx.expect(`${name}.y`, r.y);
      if (mode === 'max') {
        keep(r.indices!);
        expect(Array.from(r.indices!.toArray())).toEqual(fx.numbers(`${name}.indices`));
      } else {
        expect(r.indices).toBeUndefined();
      }
      const dy = fx.input(`${name}.dy`);
      const opts = { inputShape: x.shape, sizes, mode, indices: r.indices };
      const dx = keep(native.pyramidPoolBackward(dy, opts));
      fx.expect(`${name}.dx`, dx);
      expect(same(dx, keep(native.pyramidPoolBackward(dy, opts)))).toBe(true);
    });
  }

  it('defaults to sizes [1,3,6,8] and avg', () => {
    const fxCase = 'awkward_avg';
    const x = fx.input(`${fxCase}.x`);
    const { y } = native.pyramidPool(x);
    keep(y);
    expect(y.shape).toEqual([2, 3, 110]);
    fx.expect(`${fxCase}.y`, y);
  });
});

describe('samplePositions (Table 7 ablation)', () => {
  it('is reproducible for a seed and differs across seeds and batch rows', () => {
    const a = keep(native.samplePositions({ height: 33, width: 65, seed: 7, batch: 3 }));
    const b = keep(native.samplePositions({ height: 33, width: 65, seed: 7, batch: 3 }));
    const c = keep(native.samplePositions({ height: 33, width: 65, seed: 8, batch: 3 }));
    expect(a.shape).toEqual([3, 110]);
    expect(a.dtype).toBe('int32');
    expect(same(a, b)).toBe(true);
    expect(same(a, c)).toBe(false);
    const rows = a.toArray();
    expect(rows.slice(0, 110)).not.toEqual(rows.slice(110, 220));
    // Pinned values: the generator is ours, so the same seed gives these on every machine.
    const pinned = keep(native.samplePositions({ height: 8, width: 8, n: 2, mode: 'plain', seed: 1 }));
    expect(Array.from(pinned.toArray())).toEqual(PINNED_PLAIN);
  });

  it("'pyramid' puts one position inside each bin of each level, awkward sizes included", () => {
    for (const [height, width, sizes] of [
      [5, 97, [1, 3, 6, 8]],
      [1, 1, [1, 3, 6, 8]],
      [13, 8, [1, 4, 8, 12]],
      [17, 20, [15]],
    ] as [number, number, number[]][]) {
      const pos = keep(native.samplePositions({ height, width, sizes, seed: 3, batch: 2 })).toArray();
      const S = sizes.reduce((t, n) => t + n * n, 0);
      expect(pos.length).toBe(2 * S);
      for (let b = 0; b < 2; b++) {
        let s = 0;
        for (const n of sizes)
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++, s++) {
              const p = pos[b * S + s];
              const [h0, h1] = bin(i, height, n);
              const [w0, w1] = bin(j, width, n);
              const h = Math.floor(p / width);
              const w = p % width;
              expect(h >= h0 && h < h1 && w >= w0 && w < w1, `${height}x${width} level ${n} bin ${i},${j}: ${p}`).toBe(true);
            }
      }
    }
  });

  it("'plain' draws n*n distinct positions over the map", () => {
    const pos = keep(native.samplePositions({ height: 7, width: 9, n: 5, mode: 'plain', seed: 11, batch: 4 })).toArray();
    expect(pos.length).toBe(4 * 25);
    for (let b = 0; b < 4; b++) {
      const row = Array.from(pos.slice(b * 25, (b + 1) * 25));
      expect(new Set(row).size).toBe(25);
      expect(row.every((p) => p >= 0 && p < 63)).toBe(true);
    }
    // All of a 4x4 map: a permutation.
    const all = Array.from(keep(native.samplePositions({ height: 4, width: 4, n: 4, mode: 'plain', seed: 2 })).toArray());
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // sizes give the same S as the pyramid, for a like-for-like ablation.
    expect(keep(native.samplePositions({ height: 16, width: 16, mode: 'plain' })).shape).toEqual([1, 110]);
  });

  it('is uniform: every pixel about equally likely', () => {
    const trials = 12000;
    for (const opts of [
      { height: 3, width: 4, n: 1, mode: 'plain' as const },
      { height: 3, width: 4, sizes: [1], mode: 'pyramid' as const },
      { height: 3, width: 4, n: 2, mode: 'plain' as const },
    ]) {
      const pos = keep(native.samplePositions({ ...opts, seed: 5, batch: trials })).toArray();
      const counts = new Array(12).fill(0);
      for (const p of pos) counts[p]++;
      const expected = pos.length / 12;
      for (const c of counts) expect(Math.abs(c - expected) / expected).toBeLessThan(0.12);
    }
  });
});

describe('gatherPositions (PyTorch x.flatten(2).gather)', () => {
  const fx = new Fixture('pool_gather');
  afterAll(() => fx.dispose());
  for (const { name } of JSON.parse(fx.metadata.cases) as { name: string }[]) {
    it(`${name}: forward and input gradient (repeated positions accumulate)`, () => {
      const x = fx.input(`${name}.x`);
      const pos = fx.input(`${name}.positions`);
      fx.expect(`${name}.y`, keep(native.gatherPositions(x, pos)));
      const dy = fx.input(`${name}.dy`);
      const dx = keep(native.gatherPositionsBackward(dy, pos, x.shape));
      fx.expect(`${name}.dx`, dx);
      expect(same(dx, keep(native.gatherPositionsBackward(dy, pos, x.shape)))).toBe(true);
    });
  }

  it('reads the positions samplePositions draws', () => {
    const x = keep(native.fromArray(Float32Array.from({ length: 2 * 3 * 5 * 7 }, (_, i) => i), [2, 3, 5, 7]));
    const pos = keep(native.samplePositions({ height: 5, width: 7, seed: 1, batch: 2 }));
    const y = keep(native.gatherPositions(x, pos)).toArray();
    const p = pos.toArray();
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let s = 0; s < 110; s++) expect(y[(b * 3 + c) * 110 + s]).toBe((b * 3 + c) * 35 + p[b * 110 + s]);
  });
});

describe('pool bad input', () => {
  const f = (shape: number[], v = 1) => keep(native.full(shape, v));
  const i = (shape: number[], v = 0) => keep(native.full(shape, v, 'int32'));
  const x = f([2, 3, 8, 8]);
  const disposed = native.full([2, 3, 8, 8], 1);
  disposed.dispose();

  it('maxPool2d', () => {
    expect(() => native.maxPool2d(f([3, 8, 8]), { kernelSize: 3 })).toThrow(/^maxPool2d: .*expected rank 4/);
    expect(() => native.maxPool2d(i([2, 3, 8, 8]), { kernelSize: 3 })).toThrow(/^maxPool2d: .*int32.*expected dtype float32/);
    expect(() => native.maxPool2d(f([0, 3, 8, 8]), { kernelSize: 3 })).toThrow(/^maxPool2d: .*is empty/);
    expect(() => native.maxPool2d(disposed, { kernelSize: 3 })).toThrow(/^maxPool2d: .*disposed/);
    expect(() => native.maxPool2d(7 as unknown as NativeTensor, { kernelSize: 3 })).toThrow(/^maxPool2d: .*must be a tensor/);
    expect(() => native.maxPool2d(x, {} as MaxPool2dOptions)).toThrow(/^maxPool2d: option 'kernelSize' is required/);
    expect(() => native.maxPool2d(x, { kernelSize: 0 })).toThrow(/^maxPool2d: option 'kernelSize' must be in/);
    expect(() => native.maxPool2d(x, { kernelSize: 3, stride: -1 })).toThrow(/^maxPool2d: option 'stride'/);
    expect(() => native.maxPool2d(x, { kernelSize: 3, dilation: 0 })).toThrow(/^maxPool2d: option 'dilation'/);
    expect(() => native.maxPool2d(x, { kernelSize: 2.5 })).toThrow(/^maxPool2d: option 'kernelSize' must be an integer/);
    expect(() => native.maxPool2d(x, { kernelSize: [3, 3, 3] as unknown as number })).toThrow(/^maxPool2d: .*pair/);
    expect(() => native.maxPool2d(x, { kernelSize: 3, padding: 2 })).toThrow(/^maxPool2d: padding \[2,2\] must be at most half/);
    expect(() => native.maxPool2d(x, { kernelSize: 9 })).toThrow(/^maxPool2d: x float32 \[2,3,8,8\] .*too small/);
    expect(() => native.maxPool2d(x, { kernelSize: 3, ceil_mode: true } as MaxPool2dOptions)).toThrow(
      /^maxPool2d: unknown option 'ceil_mode'/,
    );
    expect(() => native.maxPool2d(x, { kernelSize: 3, ceilMode: 1 as unknown as boolean })).toThrow(/^maxPool2d: option 'ceilMode' must be a boolean/);
  });

  it('maxPool2dBackward', () => {
    const dy = f([2, 3, 3, 3]);
    expect(() => native.maxPool2dBackward(dy, i([2, 3, 3, 2]), [2, 3, 8, 8])).toThrow(/^maxPool2dBackward: indices int32 \[2,3,3,2\]: expected shape \[2,3,3,3\]/);
    expect(() => native.maxPool2dBackward(dy, i([2, 3, 3, 3], 64), [2, 3, 8, 8])).toThrow(/^maxPool2dBackward: .*holds 64 .*outside \[0, 64\)/);
    expect(() => native.maxPool2dBackward(dy, i([2, 3, 3, 3], -1), [2, 3, 8, 8])).toThrow(/^maxPool2dBackward: .*holds -1/);
    // The first bad index is found where the tensor lives; its position and value name it.
    const mixed = keep(native.fromArray(Int32Array.from({ length: 54 }, (_, k) => (k === 40 ? 99 : k === 50 ? -3 : k % 64)), [2, 3, 3, 3]));
    expect(() => native.maxPool2dBackward(dy, mixed, [2, 3, 8, 8])).toThrow(
      'maxPool2dBackward: indices int32 [2,3,3,3] holds 99 at flat position 40, outside [0, 64) for planes [8,8]',
    );
    expect(() => native.maxPool2dBackward(dy, f([2, 3, 3, 3]), [2, 3, 8, 8])).toThrow(/^maxPool2dBackward: .*expected dtype int32/);
    expect(() => native.maxPool2dBackward(dy, i([2, 3, 3, 3]), [2, 3, 8])).toThrow(/^maxPool2dBackward: inputShape must be \[B,C,H,W\]/);
    expect(() => native.maxPool2dBackward(dy, i([2, 3, 3, 3]), [2, 4, 8, 8])).toThrow(/^maxPool2dBackward: dy float32 \[2,3,3,3\] does not match inputShape/);
    expect(() => native.maxPool2dBackward(dy, i([2, 3, 3, 3]), [2, 3, 0, 8])).toThrow(/^maxPool2dBackward: .*positive sizes/);
  });

  it('pyramidPool', () => {
    expect(() => native.pyramidPool(x, { sizes: [] })).toThrow(/^pyramidPool: option 'sizes' must be a non-empty list/);
    expect(() => native.pyramidPool(x, { sizes: [1, 0] })).toThrow(/^pyramidPool: option 'sizes' must hold positive integers/);
    expect(() => native.pyramidPool(x, { sizes: [1, -3] })).toThrow(/^pyramidPool: option 'sizes'/);
    expect(() => native.pyramidPool(x, { sizes: [1.5] })).toThrow(/^pyramidPool: option 'sizes'\[0\] must be an integer/);
    expect(() => native.pyramidPool(x, { sizes: 3 as unknown as number[] })).toThrow(/^pyramidPool: option 'sizes' must be an array/);
    expect(() => native.pyramidPool(x, { mode: 'mean' as PyramidMode })).toThrow(/^pyramidPool: option 'mode' must be 'avg' or 'max', got 'mean'/);
    expect(() => native.pyramidPool(f([2, 8, 8]))).toThrow(/^pyramidPool: .*expected rank 4/);
    expect(() => native.pyramidPool(i([2, 3, 8, 8]))).toThrow(/^pyramidPool: .*expected dtype float32/);
    expect(() => native.pyramidPool(f([2, 3, 0, 8]))).toThrow(/^pyramidPool: .*is empty/);
    expect(() => native.pyramidPool(disposed)).toThrow(/^pyramidPool: .*disposed/);
    expect(() => native.pyramidPool(x, { size: [1] } as never)).toThrow(/^pyramidPool: unknown option 'size'/);
  });

  it('pyramidPoolBackward', () => {
    const dy = f([2, 3, 110]);
    const idx = i([2, 3, 110]);
    const inputShape = [2, 3, 8, 8];
    expect(() => native.pyramidPoolBackward(dy, {} as never)).toThrow(/^pyramidPoolBackward: option 'inputShape' is required/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, sizes: [1, 2] })).toThrow(/^pyramidPoolBackward: dy float32 \[2,3,110\]: expected shape \[2,3,5\]/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape: [2, 4, 8, 8] })).toThrow(/^pyramidPoolBackward: dy .*expected shape \[2,4,110\]/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, mode: 'max' })).toThrow(/^pyramidPoolBackward: option 'indices' .*is required for mode 'max'/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, indices: idx })).toThrow(/^pyramidPoolBackward: option 'indices' is only used with mode 'max'/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, mode: 'max', indices: i([2, 3, 110], 64) })).toThrow(/^pyramidPoolBackward: .*holds 64/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, mode: 'max', indices: f([2, 3, 110]) })).toThrow(/^pyramidPoolBackward: .*expected dtype int32/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, mode: 'max', indices: i([2, 3, 109]) })).toThrow(/^pyramidPoolBackward: indices .*expected shape/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, mode: 'max', indices: disposed })).toThrow(/^pyramidPoolBackward: .*disposed/);
    expect(() => native.pyramidPoolBackward(dy, { inputShape, sizes: [0] })).toThrow(/^pyramidPoolBackward: option 'sizes'/);
    expect(() => native.pyramidPoolBackward(f([2, 3, 110, 1]), { inputShape })).toThrow(/^pyramidPoolBackward: .*expected rank 3/);
  });

  it('samplePositions', () => {
    expect(() => native.samplePositions({ height: 0, width: 4 })).toThrow(/^samplePositions: options 'height' and 'width' must be positive/);
    expect(() => native.samplePositions({ width: 4 } as never)).toThrow(/^samplePositions: options 'height' and 'width'/);
    expect(() => native.samplePositions({ height: 3, width: 3, n: 4, mode: 'plain' })).toThrow(/^samplePositions: cannot pick 16 distinct positions from a 3x3 map/);
    expect(() => native.samplePositions({ height: 3, width: 3, n: 2, sizes: [2] })).toThrow(/^samplePositions: give either 'sizes' or 'n'/);
    expect(() => native.samplePositions({ height: 3, width: 3, n: 0 })).toThrow(/^samplePositions: option 'n'/);
    expect(() => native.samplePositions({ height: 3, width: 3, sizes: [] })).toThrow(/^samplePositions: option 'sizes'/);
    expect(() => native.samplePositions({ height: 3, width: 3, mode: 'grid' as never })).toThrow(/^samplePositions: option 'mode' must be 'pyramid' or 'plain'/);
    expect(() => native.samplePositions({ height: 3, width: 3, seed: -1 })).toThrow(/^samplePositions: option 'seed'/);
    expect(() => native.samplePositions({ height: 3, width: 3, seed: 0.5 })).toThrow(/^samplePositions: option 'seed' must be an integer/);
    expect(() => native.samplePositions({ height: 3, width: 3, batch: 0 })).toThrow(/^samplePositions: option 'batch'/);
  });

  it('gatherPositions and its backward', () => {
    const pos = i([2, 5], 3);
    expect(() => native.gatherPositions(x, i([2, 5], 64))).toThrow(/^gatherPositions: positions int32 \[2,5\] holds 64 .*outside \[0, 64\)/);
    expect(() => native.gatherPositions(x, i([2, 5], -1))).toThrow(/^gatherPositions: .*holds -1/);
    expect(() => native.gatherPositions(x, i([3, 5]))).toThrow(/^gatherPositions: positions int32 \[3,5\] has batch 3 but x float32 \[2,3,8,8\] has batch 2/);
    expect(() => native.gatherPositions(x, f([2, 5]))).toThrow(/^gatherPositions: .*expected dtype int32/);
    expect(() => native.gatherPositions(x, i([2, 5, 1]))).toThrow(/^gatherPositions: .*expected rank 2/);
    expect(() => native.gatherPositions(f([2, 64]), pos)).toThrow(/^gatherPositions: .*expected rank 4/);
    expect(() => native.gatherPositions(x, i([2, 0]))).toThrow(/^gatherPositions: .*is empty/);
    expect(() => native.gatherPositions(disposed, pos)).toThrow(/^gatherPositions: .*disposed/);
    const dy = f([2, 3, 5]);
    expect(() => native.gatherPositionsBackward(dy, pos, [2, 3, 8, 8]).dispose()).not.toThrow();
    expect(() => native.gatherPositionsBackward(dy, i([2, 4]), [2, 3, 8, 8])).toThrow(/^gatherPositionsBackward: dy float32 \[2,3,5\]: expected shape \[2,3,4\]/);
    expect(() => native.gatherPositionsBackward(dy, pos, [1, 3, 8, 8])).toThrow(/^gatherPositionsBackward: positions .*expected shape \[1,5\]/);
    expect(() => native.gatherPositionsBackward(dy, i([2, 5], 64), [2, 3, 8, 8])).toThrow(/^gatherPositionsBackward: .*holds 64/);
    expect(() => native.gatherPositionsBackward(dy, pos, [2, 3, 8])).toThrow(/^gatherPositionsBackward: inputShape/);
  });
});

const PINNED_PLAIN = [23, 60, 4, 50];
