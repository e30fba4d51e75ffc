import { afterAll, describe, expect, it } from 'vitest';

import { native, type NativeTensor } from '../lib/native/index.js';
import { nativeEmpty, nativeFull } from '../lib/tensor.js';
import { Fixture } from './helpers/parity.js';

const CASES = [
  'b1_n1_s1',
  'b2_n7_s110',
  'b1_n130_s225',
  'b2_n130_s130',
  'b1_n45_s45',
  'b1_n977_s110',
  'b1_n601_s601',
  'b1_n130_s700',
  'b2_n9_s20_nonfinite',
];

// The cases whose fixture stores the attention map (test/reference/attention.py: the others' maps
// would not fit the fixture size budget).
const WITH_WEIGHTS = new Set(['b1_n1_s1', 'b2_n7_s110', 'b1_n45_s45', 'b2_n9_s20_nonfinite']);

function scaleOf(fx: Fixture): { scale?: number } {
  const s = fx.metadata.scale;
  return s === 'default' ? {} : { scale: Number(s) };
}

function disposeAll(o: Record<string, NativeTensor | undefined>): void {
  for (const t of Object.values(o)) t?.dispose();
}

describe('attention parity with PyTorch', () => {
  for (const name of CASES) {
    it(name, () => {
      const fx = new Fixture(`attention_${name}`);
      const opts = scaleOf(fx);
      const q = fx.input('q');
      const k = fx.input('k');
      const v = fx.input('v');
      const dout = fx.input('dout');
      const { out, lse } = native.attention(q, k, v, opts);
      fx.expect('out', out);
      fx.expect('lse', lse);
      expect(fx.has('weights.f64'), `${name}: the attention map is stored exactly where expected`).toBe(WITH_WEIGHTS.has(name));
      if (WITH_WEIGHTS.has(name)) {
        const w = native.attentionWeights(q, k, opts);
        fx.expect('weights', w);
        w.dispose();
      }
      const grads = native.attentionBackward(dout, q, k, v, out, lse, opts);
      fx.expect('dq', grads.dq!);
      fx.expect('dk', grads.dk!);
      fx.expect('dv', grads.dv!);
      // Each gradient alone matches the full computation bit for bit.
      for (const key of ['dq', 'dk', 'dv'] as const) {
        const flags = { needQ: key === 'dq', needK: key === 'dk', needV: key === 'dv' };
        const one = native.attentionBackward(dout, q, k, v, out, lse, { ...opts, ...flags });
        expect(Object.keys(one)).toEqual([key]);
        expect(one[key]!.toArray()).toEqual(grads[key]!.toArray());
        disposeAll(one);
      }
      // With the probabilities kept: p is the attention map, and out, lse and the gradients from
      // p hold parity too.
      const kept = native.attention(q, k, v, { ...opts, keepProbabilities: true });
      const w = native.attentionWeights(q, k, opts);
      expect(kept.p!.shape).toEqual([...q.shape.slice(0, 2), k.shape[1]]);
      expect(kept.p!.toArray()).toEqual(w.toArray());
      fx.expect('out', kept.out);
      fx.expect('lse', kept.lse);
      const fromP = native.attentionBackward(dout, q, k, v, kept.out, kept.lse, opts, kept.p);
      fx.expect('dq', fromP.dq!);
      fx.expect('dk', fromP.dk!);
      fx.expect('dv', fromP.dv!);
      disposeAll({ out, lse, ...grads, keptOut: kept.out, keptLse: kept.lse, keptP: kept.p, w, ...fromP });
      fx.dispose();
    });
  }
});

describe('attention at scale', () => {
  it('gives the same bits on 1 and 2 threads (fixed-order dK/dV reduction)', () => {
    const fx = new Fixture('attention_b1_n977_s110');
    const q = fx.input('q');
    const k = fx.input('k');
    const v = fx.input('v');
    const dout = fx.input('dout');
    const threads = native.numThreads();
    const run = (n: number) => {
      native.setNumThreads(n);
      const { out, lse } = native.attention(q, k, v);
      const g = native.attentionBackward(dout, q, k, v, out, lse);
      const arrays = [out, lse, g.dq!, g.dk!, g.dv!].map((t) => t.toArray());
      disposeAll({ out, lse, ...g });
      return arrays;
    };
    try {
      expect(run(1)).toEqual(run(2));
    } finally {
      native.setNumThreads(threads);
      fx.dispose();
    }
  });

  it('runs S = N = 8192 without an N x S buffer', () => {
    const N = 8192;
    const C = 8;
    const q = nativeFull([1, N, C], 0.01);
    const v = nativeFull([1, N, 4], 2);
    native.emptyCache();
    const before = native.memory().peakBytes;
    const { out, lse } = native.attention(q, q, v);
    const grads = native.attentionBackward(v, q, q, v, out, lse, { needQ: false, needK: false });
    // All scores are equal: out = v, lse = log N + scale * q.q.
    expect(out.toArray()[12345]).toBeCloseTo(2, 5);
    expect(lse.toArray()[N - 1]).toBeCloseTo(Math.log(N) + (C * 1e-4) / Math.sqrt(C), 5);
    expect(grads.dv!.toArray()[77]).toBeCloseTo(2, 5);
    // N x S floats would be 256 MiB; the kernels need a few MB beyond their outputs.
    expect(native.memory().peakBytes - before).toBeLessThan(32 << 20);
    disposeAll({ q, v, out, lse, ...grads });
    // 67M scores each way: seconds on the CPU, minutes on the emulated CUDA device (fibers per thread).
  }, 300_000);
});

describe('attention bad input', () => {
  const q = nativeFull([2, 5, 4], 0.5);
  const k = nativeFull([2, 7, 4], 0.5);
  const v = nativeFull([2, 7, 3], 0.5);
  const { out, lse } = native.attention(q, k, v);
  const dout = nativeFull([2, 5, 3], 1);
  afterAll(() => disposeAll({ q, k, v, out, lse, dout }));

  it('rejects wrong ranks, dtypes and shapes, naming the op and shapes', () => {
    const q2 = nativeFull([5, 4], 1);
    const qi = nativeFull([2, 5, 4], 1, 'int32');
    const kb = nativeFull([3, 7, 4], 1);
    const kc = nativeFull([2, 7, 6], 1);
    const vs = nativeFull([2, 6, 3], 1);
    expect(() => native.attention(q2, k, v)).toThrow(/^attention: q float32 \[5,4\]: expected rank 3, got rank 2/);
    expect(() => native.attention(qi, k, v)).toThrow(/^attention: q int32 \[2,5,4\]: expected dtype float32/);
    expect(() => native.attention(q, kb, v)).toThrow(/^attention: batch mismatch: q float32 \[2,5,4\] and k float32 \[3,7,4\]/);
    expect(() => native.attention(q, kc, v)).toThrow(
      /^attention: q float32 \[2,5,4\] has 4 channels but k float32 \[2,7,6\] has 6/,
    );
    expect(() => native.attention(q, k, vs)).toThrow(/^attention: k float32 \[2,7,4\] has 7 keys but v float32 \[2,6,3\] has 6 values/);
    expect(() => native.attention(q, k, 3 as unknown as NativeTensor)).toThrow(/^attention: argument 'v' must be a tensor, got number/);
    expect(() => native.attentionWeights(q, kc)).toThrow(/^attentionWeights: q float32 \[2,5,4\] has 4 channels/);
    expect(() => native.attentionBackward(dout, q, k, v, out, q)).toThrow(/^attentionBackward: lse float32 \[2,5,4\]: expected rank 2, got rank 3/);
    expect(() => native.attentionBackward(dout, q, k, v, out, nativeFull([2, 4], 0))).toThrow(
      /^attentionBackward: lse float32 \[2,4\]: expected shape \[2,5\]/,
    );
    expect(() => native.attentionBackward(q, q, k, v, out, lse)).toThrow(
      /^attentionBackward: dout float32 \[2,5,4\]: expected shape \[2,5,3\]/,
    );
    expect(() => native.attentionBackward(dout, q, k, v, dout.reshape([2, 3, 5]), lse)).toThrow(
      /^attentionBackward: out float32 \[2,3,5\]: expected shape \[2,5,3\]/,
    );
    expect(() => native.attentionBackward(dout, q, k, v, out, lse, {}, q)).toThrow(
      /^attentionBackward: p float32 \[2,5,4\]: expected shape \[2,5,7\]/,
    );
    expect(() => native.attentionBackward(dout, q, k, v, out, lse, {}, lse)).toThrow(
      /^attentionBackward: p float32 \[2,5\]: expected rank 3, got rank 2/,
    );
    disposeAll({ q2, qi, kb, kc, vs });
  });

  it('rejects bad options', () => {
    expect(() => native.attention(q, k, v, { scale: Number.NaN })).toThrow(/^attention: option 'scale' must be a finite number/);
    expect(() => native.attention(q, k, v, { scale: Infinity })).toThrow(/^attention: option 'scale' must be a finite number/);
    expect(() => native.attention(q, k, v, { scale: '1' as unknown as number })).toThrow(/^attention: option 'scale' must be a number/);
    expect(() => native.attention(q, k, v, 5 as unknown as object)).toThrow(/^attention: options must be an object/);
    expect(() => native.attention(q, k, v, { temperature: 2 } as never)).toThrow(
      "attention: unknown option 'temperature' (expected one of scale, keepProbabilities)",
    );
    expect(() => native.attentionBackward(dout, q, k, v, out, lse, { needDq: false } as never)).toThrow(
      /^attentionBackward: unknown option 'needDq' \(expected one of scale, needQ, needK, needV\)/,
    );
    expect(() => native.attentionBackward(dout, q, k, v, out, lse, { needQ: 1 as unknown as boolean })).toThrow(
      /^attentionBackward: option 'needQ' must be a boolean/,
    );
  });

  it('rejects empty and disposed tensors', () => {
    const e = nativeEmpty([2, 0, 4]);
    expect(() => native.attention(e, k, v)).toThrow(/^attention: q float32 \[2,0,4\] is empty/);
    expect(() => native.attention(q, nativeEmpty([2, 0, 4]), v)).toThrow(/^attention: k float32 \[2,0,4\] is empty/);
    const d = nativeFull([2, 7, 4], 1);
    d.dispose();
    expect(() => native.attention(q, d, v)).toThrow(/^attention: tensor 'k' \[2,7,4\] is disposed/);
    expect(() => native.attentionBackward(dout, q, d, v, out, lse)).toThrow(/^attentionBackward: tensor 'k' \[2,7,4\] is disposed/);
    e.dispose();
  });

  it('accepts any finite scale, zero and negative included', () => {
    const r = native.attention(q, k, v, { scale: 0 });
    expect(Array.from(r.lse.toArray())[0]).toBeCloseTo(Math.log(7), 6);
    const s = native.attention(q, k, v, { scale: -3 });
    expect(s.out.toArray()[0]).toBeCloseTo(0.5, 6);
    disposeAll({ ...r, ...s });
  });
});
