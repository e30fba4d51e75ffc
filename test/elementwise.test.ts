// Parity of the elementwise family with PyTorch (forward, and every input gradient composed from
// these same ops the way autograd will compose them), plus thread-count independence on large
// inputs, NaN/Inf propagation, dropout2d's statistics and reproducibility, and bad input.
import { afterAll, describe, expect, it } from 'vitest';

import { native, type NativeTensor } from '../lib/native/index.js';
import { nativeEmpty, nativeFromArray, nativeFull } from '../lib/tensor.js';
import { randomTensor } from '../lib/cli/bench/kernels/harness.js';
import { disposeAfterAll } from './helpers/dispose.js';
import { Fixture, counted } from './helpers/parity.js';

interface Case {
  op: string;
  key: string;
  axes?: number[] | null;
  keepdim?: boolean;
  shape?: number[];
  dims?: number[];
  axis?: number;
  n?: number;
  start?: number;
  length?: number;
  transA?: boolean;
  transB?: boolean;
  p?: number;
  seed?: number;
}

const fx = new Fixture('elementwise');
const cases = JSON.parse(fx.metadata.cases) as Case[];
/** Registers native results for disposal at the end. */
const k = disposeAfterAll();
afterAll(() => fx.dispose());

const of = (op: string) => cases.filter((c) => c.op === op);

/** Seeded uniform(-0.5, 0.5) data. */
const randn = (shape: number[], seed: number) => k(randomTensor(shape, seed, 0.5));

/** Runs fn once on 1 thread and once on the default pool; returns both outputs' data. */
function bothThreadCounts(fn: () => NativeTensor): [Float32Array, Float32Array] {
  const threads = native.numThreads();
  native.setNumThreads(1);
  try {
    const one = k(fn()).toArray() as Float32Array;
    native.setNumThreads(Math.max(2, threads));
    const many = k(fn()).toArray() as Float32Array;
    return [one, many];
  } finally {
    native.setNumThreads(threads);
  }
}

/** Bitwise equality of two large arrays (NaN equal to NaN), without vitest's slow deep diff. */
function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>, label = 'arrays') {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < actual.length; i++)
    if (!Object.is(actual[i], expected[i])) throw new Error(`${label}: ${actual[i]} vs ${expected[i]} at ${i}`);
}

describe('relu', () => {
  it.each(counted('relu cases', of('relu'), 3))('$key forward and backward (NaN/Inf included)', ({ key }) => {
    const y = k(native.relu(fx.input(`${key}.x`)));
    fx.expect(`${key}.y`, y);
    fx.expect(`${key}.dx`, k(native.reluBackward(fx.input(`${key}.dy`), y)));
  });
});

describe('broadcasting binary ops', () => {
  it.each(counted('binary cases', cases.filter((c) => ['add', 'sub', 'mul', 'div'].includes(c.op)), 32))('$key ($op)', ({ op, key }) => {
    const a = fx.input(`${key}.a`);
    const b = fx.input(`${key}.b`);
    const dy = fx.input(`${key}.dy`);
    const y = k(native[op as 'add'](a, b));
    fx.expect(`${key}.y`, y);
    let ga: NativeTensor, gb: NativeTensor;
    if (op === 'add') [ga, gb] = [dy, dy];
    else if (op === 'sub') [ga, gb] = [dy, k(native.neg(dy))];
    else if (op === 'mul') [ga, gb] = [k(native.mul(dy, b)), k(native.mul(dy, a))];
    else [ga, gb] = [k(native.div(dy, b)), k(native.neg(k(native.div(k(native.mul(dy, y)), b))))];
    fx.expect(`${key}.da`, k(native.sumTo(ga, a.shape)));
    fx.expect(`${key}.db`, k(native.sumTo(gb, b.shape)));
  });

  it('matches a float64 reference on large inputs, on 1 and 2 threads', () => {
    const a = randn([2, 64, 40, 41], 3);
    const b = randn([64, 1, 1], 4);
    const ad = a.toArray(), bd = b.toArray();
    const [one, many] = bothThreadCounts(() => native.mul(a, b));
    for (let i = 0; i < ad.length; i++) {
      const c = Math.floor(i / (40 * 41)) % 64;
      if (one[i] !== Math.fround(ad[i] * bd[c])) throw new Error(`mul mismatch at ${i}`);
    }
    expectSame(many, one, 'threads');
    const [s1, s2] = bothThreadCounts(() => native.add(a, a));
    for (let i = 0; i < ad.length; i++) if (s1[i] !== Math.fround(ad[i] * 2)) throw new Error(`add mismatch at ${i}`);
    expectSame(s2, s1, 'threads');
  });

  it('propagates NaN and Inf as IEEE arithmetic does', () => {
    const a = k(nativeFromArray(new Float32Array([NaN, 1, 0, -1, Infinity]), [5]));
    const b = k(nativeFromArray(new Float32Array([1, 0, 0, 0, Infinity]), [5]));
    expect(Array.from(k(native.div(a, b)).toArray())).toEqual([NaN, Infinity, NaN, -Infinity, NaN]);
    expect(Array.from(k(native.add(a, b)).toArray())).toEqual([NaN, 1, 0, -1, Infinity]);
    expect(Array.from(k(native.sub(b, a)).toArray())).toEqual([NaN, -1, 0, 1, NaN]);
  });
});

describe('scale, affine, neg, addInPlace, copyInto', () => {
  it('compute alpha*x + beta and in-place accumulation', () => {
    const x = randn([3, 50000], 5);
    const xd = x.toArray();
    const y = k(native.affine(x, 0.5, -2)).toArray();
    const s = k(native.scale(x, -3)).toArray();
    const n = k(native.neg(x)).toArray();
    for (let i = 0; i < xd.length; i += 997) {
      expect(y[i]).toBe(Math.fround(Math.fround(0.5 * xd[i]) - 2));
      expect(s[i]).toBe(Math.fround(-3 * xd[i]));
      expect(n[i]).toBe(-xd[i]);
    }
    const acc = k(nativeFull([3, 50000], 1));
    native.addInPlace(acc, x);
    native.addInPlace(acc, x, -2);
    const ad = acc.toArray();
    for (let i = 0; i < xd.length; i += 991) expect(ad[i]).toBe(Math.fround(Math.fround(1 + xd[i]) + Math.fround(-2 * xd[i])));
    native.copyInto(acc, x);
    expectSame(acc.toArray(), xd, 'copyInto');
  });
});

describe('sum and mean', () => {
  it.each(counted('reduction cases', cases.filter((c) => c.op === 'sum' || c.op === 'mean'), 20))('$key ($op, axes $axes, keepdim $keepdim)', (c) => {
    const x = fx.input(`${c.key}.x`);
    const opts = c.axes ? { axes: c.axes, keepdim: c.keepdim } : { keepdim: c.keepdim };
    const y = k(native[c.op as 'sum'](x, opts));
    fx.expect(`${c.key}.y`, y);
    // Backward: reshape dy to the keepdim shape and broadcast it back (scaled by 1/count for mean).
    const R = x.shape.length;
    const axes = (c.axes ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + R : a));
    const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const count = axes.reduce((p, a) => p * x.shape[a], 1);
    let dy = fx.input(`${c.key}.dy`);
    if (c.op === 'mean') dy = k(native.scale(dy, 1 / count));
    const dyk = k(dy.reshape(keepShape));
    fx.expect(`${c.key}.dx`, k(native.broadcastTo(dyk, x.shape)));
  });

  it('sums large inputs over every pattern of axes, on 1 and 2 threads, against float64', () => {
    const shape = [3, 70, 33, 29];
    const x = randn(shape, 11);
    const xd = x.toArray();
    const strides = [70 * 33 * 29, 33 * 29, 29, 1];
    for (const axes of [[0, 1, 2, 3], [0], [3], [0, 2, 3], [1, 3], [0, 1, 2], [2]]) {
      const [one, many] = bothThreadCounts(() => native.sum(x, { axes }));
      const kept = [0, 1, 2, 3].filter((d) => !axes.includes(d));
      const outShape = kept.map((d) => shape[d]);
      const ref = new Float64Array(one.length);
      for (let i = 0; i < xd.length; i++) {
        let o = 0;
        for (const d of kept) o = o * shape[d] + (Math.floor(i / strides[d]) % shape[d]);
        ref[o] += xd[i];
      }
      expect(one.length).toBe(outShape.reduce((p, d) => p * d, 1));
      for (let i = 0; i < ref.length; i++) {
        for (const v of [one[i], many[i]])
          if (Math.abs(v - ref[i]) > 1e-6 * Math.max(1, Math.abs(ref[i])))
            throw new Error(`sum axes ${axes}: ${v} vs ${ref[i]} at ${i}`);
      }
    }
  });

  it('propagates NaN and Inf', () => {
    const x = k(nativeFromArray(new Float32Array([1, NaN, 2, 3, Infinity, 4]), [2, 3]));
    expect(Array.from(k(native.sum(x, { axes: [1] })).toArray())).toEqual([NaN, Infinity]);
    expect(Array.from(k(native.mean(x)).toArray())).toEqual([NaN]);
    expect(k(native.sum(x)).shape).toEqual([]);
  });
});

describe('broadcastTo', () => {
  it.each(counted('broadcastTo cases', of('broadcastTo'), 3))('$key to $shape', ({ key, shape }) => {
    const x = fx.input(`${key}.x`);
    fx.expect(`${key}.y`, k(native.broadcastTo(x, shape!)));
    fx.expect(`${key}.dx`, k(native.sumTo(fx.input(`${key}.dy`), x.shape)));
  });
});

describe('permute', () => {
  it.each(counted('permute cases', of('permute'), 9))('$key dims $dims', ({ key, dims }) => {
    const y = k(native.permute(fx.input(`${key}.x`), dims!));
    fx.expect(`${key}.y`, y);
    const R = dims!.length;
    const inv = new Array<number>(R);
    dims!.forEach((d, i) => (inv[(d + R) % R] = i));
    fx.expect(`${key}.dx`, k(native.permute(fx.input(`${key}.dy`), inv)));
  });

  it('moves data exactly for large batched transposes, on 1 and 2 threads', () => {
    const [B, C, N] = [2, 67, 301];
    const x = randn([B, C, N], 21);
    const xd = x.toArray();
    const [one, many] = bothThreadCounts(() => native.permute(x, [0, 2, 1]));
    for (let b = 0; b < B; b++)
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++)
          if (one[(b * N + n) * C + c] !== xd[(b * C + c) * N + n]) throw new Error(`permute mismatch at ${b},${n},${c}`);
    expectSame(many, one, 'threads');
    const back = k(native.permute(k(native.permute(x, [2, 0, 1])), [1, 2, 0]));
    expectSame(back.toArray(), xd, 'permute round trip');
    // Short dims on either side of the transpose (tiles reshape to stay large).
    for (const [P, Q] of [[3, 7001], [7001, 3], [1, 5000], [130, 17]]) {
      const z = randn([2, P, Q], 22);
      const zd = z.toArray();
      const [u1, u2] = bothThreadCounts(() => native.permute(z, [0, 2, 1]));
      for (let b = 0; b < 2; b++)
        for (let q = 0; q < Q; q++)
          for (let p = 0; p < P; p++)
            if (u1[(b * Q + q) * P + p] !== zd[(b * P + p) * Q + q]) throw new Error(`permute [2,${P},${Q}] mismatch`);
      expectSame(u2, u1, 'threads');
    }
  });
});

describe('cat, split, narrow', () => {
  it.each(counted('cat cases', of('cat'), 4))('$key cat along $axis, split back', ({ key, axis, n }) => {
    const xs = Array.from({ length: n! }, (_, j) => fx.input(`${key}.x${j}`));
    fx.expect(`${key}.y`, k(native.cat(xs, axis!)));
    const R = xs[0].shape.length;
    const ax = (axis! + R) % R;
    const parts = native.split(fx.input(`${key}.dy`), axis!, xs.map((t) => t.shape[ax]));
    parts.forEach((p, j) => fx.expect(`${key}.dx${j}`, k(p)));
  });

  it.each(counted('narrow cases', of('narrow'), 3))('$key narrow($axis, $start, $length)', ({ key, axis, start, length }) => {
    const x = fx.input(`${key}.x`);
    fx.expect(`${key}.y`, k(native.narrow(x, axis!, start!, length!)));
    const ax = (axis! + x.shape.length) % x.shape.length;
    fx.expect(`${key}.dx`, k(native.narrowBackward(fx.input(`${key}.dy`), axis!, start!, x.shape[ax])));
  });

  it('round-trips large tensors through cat and split on 1 and 2 threads', () => {
    const a = randn([1, 40, 65, 65], 31);
    const b = randn([1, 24, 65, 65], 32);
    const [one, many] = bothThreadCounts(() => native.cat([a, b], 1));
    const ad = a.toArray(), bd = b.toArray();
    expectSame(one.subarray(0, ad.length), ad, 'cat a');
    expectSame(one.subarray(ad.length), bd, 'cat b');
    expectSame(many, one, 'threads');
    const y = k(native.cat([a, b], 1));
    const [pa, pb] = native.split(y, 1, [40, 24]).map(k);
    expectSame(pa.toArray(), ad, 'split a');
    expectSame(pb.toArray(), bd, 'split b');
    const w = randn([300, 7], 33);
    const mid = k(native.narrow(w, 1, 2, 3)).toArray();
    const wd = w.toArray();
    for (let r = 0; r < 300; r++) for (let c = 0; c < 3; c++) expect(mid[r * 3 + c]).toBe(wd[r * 7 + 2 + c]);
  });
});

describe('matmul', () => {
  it.each(counted('matmul cases', of('matmul'), 9))('$key (transA $transA, transB $transB)', ({ key, transA, transB }) => {
    const a = fx.input(`${key}.a`);
    const b = fx.input(`${key}.b`);
    const dy = fx.input(`${key}.dy`);
    const ta = !!transA, tb = !!transB;
    fx.expect(`${key}.y`, k(native.matmul(a, b, { transA: ta, transB: tb })));
    // The gradient formulas documented in lib/native/kernels/elementwise.ts; a shared 2-D
    // operand's gradient is summed over the batch by sumTo.
    const da = ta ? native.matmul(b, dy, { transA: tb, transB: true }) : native.matmul(dy, b, { transB: !tb });
    const db = tb ? native.matmul(dy, a, { transA: true, transB: ta }) : native.matmul(a, dy, { transA: !ta });
    fx.expect(`${key}.da`, k(native.sumTo(k(da), a.shape)));
    fx.expect(`${key}.db`, k(native.sumTo(k(db), b.shape)));
  });

  it('gives the same products batched over threads as one by one', () => {
    const a = randn([8, 24, 40], 41);
    const b = randn([8, 40, 16], 42);
    const [one, many] = bothThreadCounts(() => native.matmul(a, b));
    expectSame(many, one, 'threads');
    const shared = randn([40, 16], 43);
    const flat = k(native.matmul(k(a.reshape([8 * 24, 40])), shared)).toArray();
    expectSame(k(native.matmul(a, shared)).toArray(), flat, 'shared b');
  });
});

describe('dropout2d', () => {
  it.each(counted('dropout2d cases', of('dropout2d'), 3))('$key: PyTorch applying our mask (p $p)', ({ key, p, seed }) => {
    const x = fx.input(`${key}.x`);
    const { y, mask } = native.dropout2d(x, { p: p!, seed: seed! });
    k(y);
    k(mask);
    expect(Array.from(mask.toArray())).toEqual(fx.numbers(`${key}.mask`));
    fx.expect(`${key}.y`, y);
    fx.expect(`${key}.dx`, k(native.dropout2dBackward(fx.input(`${key}.dy`), mask)));
  });

  it('keeps about 1-p of the channels and reproduces its mask from the seed', () => {
    const x = k(nativeFull([64, 512, 3], 1));
    for (const p of [0.05, 0.3, 0.5, 0.9]) {
      const [m1, m2] = bothThreadCounts(() => native.dropout2d(x, { p, seed: 42 }).mask);
      expectSame(m2, m1, 'mask threads');
      const n = m1.length;
      const kept = m1.filter((v) => v !== 0).length / n;
      const sigma = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(kept - (1 - p))).toBeLessThan(5 * sigma);
      expect(m1.every((v) => v === 0 || v === Math.fround(1 / (1 - p)))).toBe(true);
    }
    const a = native.dropout2d(x, { p: 0.5, seed: 1 }).mask;
    const b = native.dropout2d(x, { p: 0.5, seed: 2 }).mask;
    k(a);
    k(b);
    expect(a.toArray()).not.toEqual(b.toArray());
  });

  it('is the identity when not training and keeps everything at p = 0', () => {
    const x = randn([2, 3, 4], 51);
    const ev = native.dropout2d(x, { p: 0.5, training: false });
    expect(ev.y.toArray()).toEqual(x.toArray());
    expect(Array.from(ev.mask.toArray())).toEqual([1, 1, 1, 1, 1, 1]);
    const z = native.dropout2d(x, { p: 0, seed: 3 });
    expect(z.y.toArray()).toEqual(x.toArray());
    for (const t of [ev.y, ev.mask, z.y, z.mask]) k(t);
  });
});

describe('bad input', () => {
  const t23 = () => k(nativeFull([2, 3], 1));
  const disposed = () => {
    const t = nativeFull([2, 3], 1);
    t.dispose();
    return t;
  };
  const int32 = () => k(nativeFull([2, 3], 1, 'int32'));
  const empty = () => k(nativeEmpty([2, 0]));
  const rank9 = () => k(k(nativeFull([2], 1)).reshape([1, 1, 1, 1, 1, 1, 1, 1, 2]));

  it('rejects disposed, int32, empty and rank > 8 tensors in every op', () => {
    const unary: [string, (x: NativeTensor) => unknown][] = [
      ['relu', (x) => native.relu(x)],
      ['reluBackward', (x) => native.reluBackward(x, t23())],
      ['scale', (x) => native.scale(x, 2)],
      ['affine', (x) => native.affine(x, 2, 1)],
      ['neg', (x) => native.neg(x)],
      ['addInPlace', (x) => native.addInPlace(t23(), x)],
      ['copyInto', (x) => native.copyInto(x, t23())],
      ['add', (x) => native.add(t23(), x)],
      ['sub', (x) => native.sub(x, t23())],
      ['mul', (x) => native.mul(x, t23())],
      ['div', (x) => native.div(t23(), x)],
      ['sumTo', (x) => native.sumTo(x, [1])],
      ['broadcastTo', (x) => native.broadcastTo(x, [4, 2, 3])],
      ['sum', (x) => native.sum(x)],
      ['mean', (x) => native.mean(x, { axes: [0] })],
      ['permute', (x) => native.permute(x, [1, 0])],
      ['cat', (x) => native.cat([t23(), x], 0)],
      ['split', (x) => native.split(x, 0, [1, 1])],
      ['narrow', (x) => native.narrow(x, 0, 0, 1)],
      ['narrowBackward', (x) => native.narrowBackward(x, 0, 0, 3)],
      ['matmul', (x) => native.matmul(x, k(nativeFull([3, 2], 1)))],
      ['dropout2d', (x) => native.dropout2d(x, { p: 0.5, seed: 1 })],
      ['dropout2dBackward', (x) => native.dropout2dBackward(t23(), x)],
    ];
    for (const [op, call] of unary) {
      expect(() => call(disposed()), op).toThrow(new RegExp(`^${op}: .*disposed`));
      expect(() => call(int32()), op).toThrow(new RegExp(`^${op}: .*expected dtype float32`));
      expect(() => call(empty()), op).toThrow(new RegExp(`^${op}: .*empty`));
      if (op !== 'dropout2dBackward') expect(() => call(rank9()), op).toThrow(new RegExp(`^${op}: .*rank`));
      expect(() => call(7 as unknown as NativeTensor), op).toThrow(new RegExp(`^${op}: .*must be a tensor`));
    }
  });

  it('rejects mismatched and unbroadcastable shapes', () => {
    const a = t23();
    const b = k(nativeFull([4], 1));
    expect(() => native.add(a, b)).toThrow(/^add: a float32 \[2,3\] and b float32 \[4\] do not broadcast/);
    expect(() => native.div(a, b)).toThrow(/^div: .*do not broadcast/);
    expect(() => native.reluBackward(a, b)).toThrow(/^reluBackward: dy float32 \[2,3\] and y float32 \[4\] must have the same shape/);
    expect(() => native.addInPlace(a, k(nativeFull([3, 2], 1)))).toThrow(/^addInPlace: .*same shape/);
    expect(() => native.copyInto(a, b)).toThrow(/^copyInto: .*same shape/);
    expect(() => native.sumTo(a, [4])).toThrow(/^sumTo: x float32 \[2,3\] cannot be summed to \[4\]/);
    expect(() => native.sumTo(a, [1, 2, 3])).toThrow(/^sumTo: /);
    expect(() => native.sumTo(a, [0])).toThrow(/^sumTo: shape \[0\] has a dimension below 1/);
    expect(() => native.broadcastTo(a, [3, 3])).toThrow(/^broadcastTo: x float32 \[2,3\] cannot be broadcast to \[3,3\]/);
    expect(() => native.broadcastTo(a, [3])).toThrow(/^broadcastTo: /);
    expect(() => native.cat([a, b], 0)).toThrow(/^cat: tensors\[1\] float32 \[4\] does not match/);
    expect(() => native.cat([a, k(nativeFull([2, 4], 1))], 0)).toThrow(/^cat: .*outside axis 0/);
    expect(() => native.cat([], 0)).toThrow(/^cat: .*empty array/);
    expect(() => native.cat(a as unknown as NativeTensor[], 0)).toThrow(/^cat: .*array of tensors/);
    expect(() => native.split(a, 1, [1, 1])).toThrow(/^split: sizes \[1,1\] add up to 2 but x float32 \[2,3\] has 3/);
    expect(() => native.split(a, 1, [3, 0])).toThrow(/^split: .*below 1/);
    expect(() => native.narrow(a, 1, 2, 2)).toThrow(/^narrow: start 2 and length 2 do not fit/);
    expect(() => native.narrow(a, 1, 0, 0)).toThrow(/^narrow: /);
    expect(() => native.narrowBackward(a, 1, 1, 3)).toThrow(/^narrowBackward: dy float32 \[2,3\] does not fit/);
    expect(() => native.matmul(a, a)).toThrow(/^matmul: .*disagree on the inner dimension \(3 vs 2\)/);
    expect(() => native.matmul(a, b)).toThrow(/^matmul: b float32 \[4\] must have rank >= 2/);
    expect(() => native.matmul(k(nativeFull([2, 2, 3], 1)), k(nativeFull([3, 3, 2], 1)))).toThrow(/^matmul: .*batch dims/);
    expect(() => native.dropout2dBackward(a, k(nativeFull([2, 2], 1)))).toThrow(/^dropout2dBackward: mask float32 \[2,2\]: expected shape \[2,3\]/);
    expect(() => native.dropout2d(b, { p: 0.1, seed: 1 })).toThrow(/^dropout2d: x float32 \[4\] must have rank >= 2/);
  });

  it('rejects bad axes, dims and options', () => {
    const a = t23();
    expect(() => native.sum(a, { axes: [2] })).toThrow(/^sum: axis 2 is out of range for x float32 \[2,3\]/);
    expect(() => native.mean(a, { axes: [-3] })).toThrow(/^mean: axis -3 is out of range/);
    expect(() => native.sum(a, { axes: [0, -2] })).toThrow(/^sum: axis -2 appears more than once/);
    expect(() => native.sum(a, { axes: [] })).toThrow(/^sum: option 'axes' is empty/);
    expect(() => native.sum(a, { axes: [0.5] })).toThrow(/^sum: .*integer/);
    expect(() => native.sum(a, { keepdim: 1 as unknown as boolean })).toThrow(/^sum: option 'keepdim' must be a boolean/);
    expect(() => native.sum(a, { axis: [0] } as never)).toThrow("sum: unknown option 'axis' (expected one of axes, keepdim)");
    expect(() => native.matmul(a, k(nativeFull([3, 2], 1)), { transposeA: true } as never)).toThrow(
      /^matmul: unknown option 'transposeA' \(expected one of transA, transB\)/,
    );
    expect(() => native.dropout2d(a, { p: 0.5, seed: 1, train: false } as never)).toThrow(
      /^dropout2d: unknown option 'train' \(expected one of p, training, seed\)/,
    );
    expect(() => native.permute(a, [0])).toThrow(/^permute: dims \[0\] has 1 entries but x float32 \[2,3\] has rank 2/);
    expect(() => native.permute(a, [0, 0])).toThrow(/^permute: dims \[0,0\] repeats axis 0/);
    expect(() => native.permute(a, [0, 2])).toThrow(/^permute: .*not a permutation/);
    expect(() => native.cat([a], 2)).toThrow(/^cat: axis 2 is out of range/);
    expect(() => native.split(a, -3, [2])).toThrow(/^split: axis -3 is out of range/);
    expect(() => native.narrow(a, 5, 0, 1)).toThrow(/^narrow: axis 5 is out of range/);
    expect(() => native.scale(a, 'x' as unknown as number)).toThrow(/^scale: argument 'alpha' must be a number/);
    expect(() => native.matmul(a, k(nativeFull([3, 2], 1)), { transA: 'yes' as unknown as boolean })).toThrow(
      /^matmul: option 'transA' must be a boolean/,
    );
    for (const p of [-0.1, 1.5, NaN])
      expect(() => native.dropout2d(a, { p, seed: 1 })).toThrow(/^dropout2d: option 'p' must be in \[0, 1\]/);
    expect(() => native.dropout2d(a, {} as { p: number })).toThrow(/^dropout2d: option 'p' is required/);
    expect(() => native.dropout2d(a, { p: 0.5 })).toThrow(/^dropout2d: option 'seed' is required when training/);
    expect(() => native.dropout2d(a, { p: 0.5, seed: -1 })).toThrow(/^dropout2d: option 'seed' must be a non-negative/);
    expect(() => native.dropout2d(a, { p: 0.5, seed: 1.5 })).toThrow(/^dropout2d: option 'seed' must be an integer/);
  });
});
