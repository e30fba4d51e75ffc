// Parity of the basic F ops (arith, shape, linalg, loss) with PyTorch autograd: every case of
// test/reference/f_basic.py runs here by name, forward and the gradient of every input, inside
// tidy, and must leave memory().numTensors where it found it. Then bad input and leaks outside tidy.
import { afterAll, describe, expect, it } from 'vitest';

import { F, memory, tensor, tidy, Tensor } from '../lib/index.js';
import { Fixture, counted } from './helpers/parity.js';

interface Case {
  name: string;
  inputs: number;
  grads: number[];
  dim?: number | null;
  thresh?: number;
  minKept?: number;
}

const fx = new Fixture('f_basic');
const cases = JSON.parse(fx.metadata.cases) as Case[];
afterAll(() => fx.dispose());

const conv1x1 = (x: Tensor, w: Tensor, b: Tensor) => F.add(F.matmul(x.permute([0, 2, 3, 1]), w), b).permute([0, 3, 1, 2]);
const linearCe = (reduction: 'mean' | 'sum' | 'none') => ([x, w, b, t, cw]: Tensor[]) =>
  F.crossEntropy(F.add(F.matmul(x, w), b), t, { weight: cw, ignoreIndex: -1, reduction });

/** The same expressions as f_basic.py, by case name. */
const EXPR: Record<string, (x: Tensor[], c: Case) => Tensor> = {
  add_same: ([a, b]) => F.add(a, b),
  add_both_ways: ([a, b]) => F.add(a, b),
  add_0d: ([a, b]) => F.add(a, b),
  sub_rows: ([a, b]) => F.sub(a, b),
  sub_one: ([a, b]) => F.sub(a, b),
  mul_both_ways: ([a, b]) => F.mul(a, b),
  mul_self: ([a]) => F.mul(a, a),
  div_last: ([a, b]) => F.div(a, b),
  div_both_ways: ([a, b]) => F.div(a, b),
  div_0d: ([a, b]) => F.div(a, b),
  neg: ([x]) => F.neg(x),
  scale: ([x]) => F.scale(x, 2.5),
  add_scalar: ([x]) => F.addScalar(x, 1.5),
  relu: ([x]) => F.relu(x),
  sum_all: ([x]) => F.sum(x),
  sum_dims_keepdim: ([x]) => F.sum(x, { dim: [0, -1], keepdim: true }),
  sum_negdim: ([x]) => F.sum(x, { axes: [-2] }),
  sum_0d_dim0: ([x]) => F.sum(x, { dim: 0 }),
  mean_all: ([x]) => F.mean(x),
  mean_dim_keepdim: ([x]) => F.mean(x, { dim: 1, keepdim: true }),
  mean_size1: ([x]) => F.mean(x, { dim: [1, 2] }),
  softmax_dim1: ([x]) => F.softmax(x, { dim: 1 }),
  softmax_neg: ([x]) => F.softmax(x, { dim: -1 }),
  softmax_size1: ([x]) => F.softmax(x, { dim: 1 }),
  softmax_0d: ([x]) => F.softmax(x, { dim: 0 }),
  log_softmax_dim0: ([x]) => F.logSoftmax(x, { dim: 0 }),
  log_softmax_neg: ([x]) => F.logSoftmax(x, { dim: -1 }),

  flatten_mid: ([x]) => F.flatten(x, 1, 2),
  flatten_all: ([x]) => F.flatten(x),
  flatten_neg: ([x]) => F.flatten(x, -2, -1),
  flatten_0d: ([x]) => F.flatten(x),
  unsqueeze_neg: ([x]) => F.unsqueeze(x, -1),
  unsqueeze_0: ([x]) => F.unsqueeze(x, 0),
  squeeze_all: ([x]) => F.squeeze(x),
  squeeze_dim: ([x]) => F.squeeze(x, 2),
  squeeze_noop: ([x]) => F.squeeze(x, 1),
  cat_last: (xs) => F.cat(xs, -1),
  cat_first: (xs) => F.cat(xs, 0),
  cat_no_grad_middle: (xs) => F.cat(xs, 1),
  split_cat_round_trip: ([x]) => {
    const p = F.split(x, [2, 4, 1], 1);
    return F.cat([p[2], p[0]], 1);
  },
  split_size: ([x]) => {
    const p = F.split(x, 2);
    return F.cat([F.mul(p[0], p[1]), p[2]], 0);
  },
  split_neg_dim_sum: ([x]) =>
    F.split(x, 3, -1)
      .map((p, i) => F.scale(F.sum(p), i + 1))
      .reduce((acc, t) => F.add(acc, t)),
  narrow: ([x]) => F.narrow(x, 1, 1, 3),
  narrow_neg_start: ([x]) => F.narrow(x, 0, -2, 2),
  permute_transpose: ([x]) => x.permute([2, 0, 1]).transpose(0, -1).reshape([4, -1]),

  mm: ([a, b]) => F.matmul(a, b),
  mv: ([a, b]) => F.matmul(a, b),
  vm: ([a, b]) => F.matmul(a, b),
  dot: ([a, b]) => F.matmul(a, b),
  bmm: ([a, b]) => F.bmm(a, b),
  batched_shared_b: ([a, b]) => F.matmul(a, b),
  batched_shared_a: ([a, b]) => F.matmul(a, b),
  batch_broadcast: ([a, b]) => F.matmul(a, b),
  batch_4d_n1: ([a, b]) => F.matmul(a, b),
  batched_mv: ([a, b]) => F.matmul(a, b),
  vm_batched: ([a, b]) => F.matmul(a, b),

  softmax_affine: ([a, b, c, d]) => F.mean(F.mul(F.softmax(F.add(F.matmul(a, b), c), { dim: -1 }), d)),
  attention_like: ([q, k, v]) => F.matmul(F.softmax(F.scale(F.matmul(q, k.transpose(1, 2)), 0.5), { dim: -1 }), v),
  mixed: ([x, w]) =>
    F.sum(
      F.relu(
        F.mul(
          F.div(F.sub(x, F.mean(x, { dim: 1, keepdim: true })), F.sum(F.addScalar(F.mul(x, x), 1), { dim: 1, keepdim: true })),
          w,
        ),
      ),
    ),

  linear_ce_mean: linearCe('mean'),
  linear_ce_sum: linearCe('sum'),
  linear_ce_none: linearCe('none'),
  ce_default: ([x, t]) => F.crossEntropy(x, t),
  ce_4d_weighted: ([x, w, b, t, cw]) => F.crossEntropy(conv1x1(x, w, b), t, { weight: cw, ignoreIndex: 255 }),
  ohem_thresh: ([x, w, b, t, cw], c) => F.ohemCrossEntropy(conv1x1(x, w, b), t, { thresh: c.thresh, minKept: c.minKept, weight: cw }),
  ohem_sorted: ([x, w, b, t, cw], c) => F.ohemCrossEntropy(conv1x1(x, w, b), t, { thresh: c.thresh, minKept: c.minKept, weight: cw }),

  argmax_dim1: ([x], c) => F.argmax(x, { dim: c.dim ?? undefined }),
  argmax_neg: ([x], c) => F.argmax(x, { dim: c.dim ?? undefined }),
  argmax_flat: ([x], c) => F.argmax(x, { dim: c.dim ?? undefined }),
};

describe('F parity with PyTorch', () => {
  it('has an expression for every fixture case', () => {
    expect(cases.map((c) => c.name).filter((n) => !EXPR[n])).toEqual([]);
  });

  it.each(counted('f_basic cases', cases, 69))('$name: forward and every input gradient, memory back to baseline', (c) => {
    const before = memory().numTensors;
    const xs = Array.from({ length: c.inputs }, (_, i) => new Tensor(fx.input(`${c.name}.in${i}`), c.grads.includes(i)));
    const y = tidy(() => EXPR[c.name](xs, c));
    fx.expect(`${c.name}.y`, y.native);
    if (c.grads.length) {
      if (fx.has(`${c.name}.dy`)) {
        const dy = new Tensor(fx.input(`${c.name}.dy`));
        y.backward(dy);
        dy.dispose();
      } else y.backward();
      for (const i of c.grads) fx.expect(`${c.name}.g${i}`, xs[i].grad!.native);
      for (const [i, x] of xs.entries()) if (!c.grads.includes(i)) expect(x.grad, `in${i} needs no grad`).toBeNull();
    }
    for (const x of xs) {
      x.grad?.dispose();
      x.dispose();
    }
    y.dispose();
    expect(memory().numTensors).toBe(before);
  });
});

describe('F ops outside tidy leak nothing', () => {
  it('matmul of 1-D operands and broadcast batches frees its intermediates, with and without grad', () => {
    const before = memory().numTensors;
    const v = tensor([1, 2, 3], [3], { requiresGrad: true });
    const m = tensor([1, 0, 0, 1, 1, 1], [3, 2]);
    const y = F.matmul(v, m);
    expect(Array.from(y.toFloat32Array())).toEqual([4, 5]);
    const s = F.sum(y);
    s.backward();
    expect(Array.from(v.grad!.toFloat32Array())).toEqual([1, 1, 2]);
    const a = tensor([1, 2, 3, 4], [2, 1, 1, 2]);
    const b = tensor([1, 1, 2, 2, 3, 3], [3, 2, 1]);
    const z = F.matmul(a, b);
    expect(z.shape).toEqual([2, 3, 1, 1]);
    expect(Array.from(z.toFloat32Array())).toEqual([3, 6, 9, 7, 14, 21]);
    for (const t of [v.grad!, v, m, y, s, a, b, z]) t.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('ohemCrossEntropy keeps its selection only until backward', () => {
    const before = memory().numTensors;
    const logits = tensor([2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 1, 1], [4, 3], { requiresGrad: true });
    const target = tensor(new Int32Array([0, 1, 2, 0]), [4]);
    const loss = F.ohemCrossEntropy(logits, target, { thresh: 0.7, minKept: 1 });
    // Rows 0..2 have p = e^2 / (e^2 + 2) ~ 0.787 >= 0.7; only row 3 (p = 1/3) is kept.
    expect(loss.item()).toBeCloseTo(Math.log(3), 6);
    loss.backward();
    const g = logits.grad!.toFloat32Array();
    expect(Array.from(g.slice(0, 9))).toEqual(new Array(9).fill(0));
    expect(g[9]).toBeCloseTo(1 / 3 - 1, 6);
    for (const t of [logits.grad!, logits, target, loss]) t.dispose();
    expect(memory().numTensors).toBe(before);
  });
});

describe('F bad input', () => {
  const x = () => tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });

  it('names the op and the shapes for bad dimensions', () => {
    const before = memory().numTensors;
    tidy(() => {
      const t = x();
      expect(() => F.sum(t, { dim: 2 })).toThrow(/sum: dimension 2 out of range for tensor \[2,3\]/);
      expect(() => F.mean(t, { dim: [0, -2] })).toThrow(/mean: dimension repeated/);
      expect(() => F.sum(t, { dim: 0, axes: [1] })).toThrow(/sum: give 'axes' or its alias 'dim'/);
      expect(() => F.softmax(t, { dim: 2 })).toThrow(/softmax/);
      expect(() => F.softmax(F.sum(t), { dim: 1 })).toThrow(/softmax: dimension 1 out of range for a 0-d tensor/);
      expect(() => F.logSoftmax(t, { dim: -3 })).toThrow(/logSoftmax/);
      expect(() => F.unsqueeze(t, 3)).toThrow(/unsqueeze: dimension 3 out of range for tensor \[2,3\]/);
      expect(() => F.squeeze(t, -3)).toThrow(/squeeze: dimension -3 out of range/);
      expect(() => F.flatten(t, 1, 0)).toThrow(/flatten: startDim 1 comes after endDim 0/);
      expect(() => F.narrow(t, 1, 2, 2)).toThrow(/narrow.*\[2,3\]/);
      expect(() => F.narrow(t, 2, 0, 1)).toThrow(/narrow: dimension 2 out of range/);
      expect(() => F.split(t, [1, 1], 1)).toThrow(/split: sizes \[1,1\] do not sum to 3/);
      expect(() => F.split(t, 0)).toThrow(/split: size must be a positive integer/);
      expect(() => F.argmax(t, { dim: 2 })).toThrow(/argmax/);
    });
    expect(memory().numTensors).toBe(before);
  });

  it('refuses mismatched shapes in cat, add and matmul', () => {
    const before = memory().numTensors;
    tidy(() => {
      const t = x();
      expect(() => F.cat([t, tensor([1, 2], [2, 1])], 0)).toThrow(/cat: .*\[2,1\].*\[2,3\]/);
      expect(() => F.cat([], 0)).toThrow(/cat: expected a non-empty array/);
      expect(() => F.cat([t], 2)).toThrow(/cat: dimension 2 out of range/);
      expect(() => F.add(t, tensor([1, 2], [2]))).toThrow(/add: .*\[2,3\].*\[2\]/);
      expect(() => F.matmul(t, t)).toThrow(/matmul: \[2,3\] @ \[2,3\]: inner dimensions differ \(3 vs 2\)/);
      expect(() => F.matmul(F.reshape(t, [2, 1, 3]), F.reshape(F.cat([t, t, t], 0), [3, 3, 2]))).toThrow(
        /matmul: batch dimensions of \[2,1,3\] and \[3,3,2\] do not broadcast/,
      );
      expect(() => F.matmul(F.sum(t), t)).toThrow(/matmul: both operands need at least 1 dimension/);
      expect(() => F.bmm(t, t)).toThrow(/bmm: expected \[B, N, M\] and \[B, M, P\]/);
    });
    expect(memory().numTensors).toBe(before);
  });

  it('checks cross-entropy targets and options', () => {
    const before = memory().numTensors;
    tidy(() => {
      const logits = tensor(new Float32Array(12), [4, 3], { requiresGrad: true });
      const target = (v: number[]) => tensor(new Int32Array(v), [v.length]);
      expect(() => F.crossEntropy(logits, target([0, 1, 2]))).toThrow(/crossEntropy: target int32 \[3\] does not match logits float32 \[4,3\]/);
      expect(() => F.crossEntropy(logits, target([0, 1, 3, 0]))).toThrow(/crossEntropy: target\[2\] = 3 is not a class in \[0, 3\)/);
      expect(() => F.crossEntropy(logits, target([0, -1, 2, 0]))).toThrow(/target\[1\] = -1/);
      expect(() => F.crossEntropy(logits, tensor([0, 1, 2, 0], [4]))).toThrow(/crossEntropy: target float32 \[4\]: expected dtype int32/);
      expect(() => F.crossEntropy(logits, target([0, 1, 2, 0]), { ignore_index: 1 } as never)).toThrow(
        /crossEntropy: unknown option 'ignore_index'/,
      );
      expect(() => F.crossEntropy(logits, target([0, 1, 2, 0]), { reduction: 'avg' as never })).toThrow(/reduction/);
      expect(() => F.crossEntropy(logits, target([0, 1, 2, 0]), { weight: tensor([1, 1], [2]) })).toThrow(/crossEntropy/);
      expect(() => F.ohemCrossEntropy(logits, target([0, 1]))).toThrow(/ohemCrossEntropy: .*\[2\].*\[4,3\]/);
      expect(() => F.ohemCrossEntropy(logits, target([0, 1, 7, 0]))).toThrow(/ohemCrossEntropy: target\[2\] = 7/);
      expect(() => F.ohemCrossEntropy(logits, target([0, 1, 2, 0]), { min_kept: 1 } as never)).toThrow(/unknown option 'min_kept'/);
    });
    expect(memory().numTensors).toBe(before);
  });
});
