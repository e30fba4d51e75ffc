// F.conv1x1Pair, the blocks' fuse conv over cat([a, b]) without the concatenation: the pointwise
// case of test/reference/conv.py with its input and weight split by channels must give PyTorch's
// output and gradients (dx then being cat([da, db]), dweight cat([dwa, dwb])).
import { afterAll, describe, expect, it } from 'vitest';

import { F, tensor, type Tensor } from '../lib/index.js';
import { native } from '../lib/native/index.js';
import { Fixture } from './helpers/parity.js';

const fx = new Fixture('conv');
afterAll(() => fx.dispose());

function leaf(key: string): Tensor {
  const r = fx.raw(key);
  return tensor(Float32Array.from(r.data as ArrayLike<number>), r.shape, { requiresGrad: true });
}

describe('conv1x1Pair', () => {
  it.each([1, 2, 4])('matches conv2d over the concatenation (first %i input channels as a)', (ca) => {
    const x = leaf('pointwise.x');
    const w = leaf('pointwise.weight');
    const b = leaf('pointwise.bias');
    const dy = leaf('pointwise.dy');
    const cb = x.shape[1] - ca;
    const a = F.narrow(x, 1, 0, ca);
    const rest = F.narrow(x, 1, ca, cb);
    const y = F.conv1x1Pair(a, F.narrow(w, 1, 0, ca), rest, F.narrow(w, 1, ca, cb), b);
    fx.expect('pointwise.y', y.native);
    y.backward(dy);
    fx.expect('pointwise.dx', x.grad!.native);
    fx.expect('pointwise.dweight', w.grad!.native);
    fx.expect('pointwise.dbias', b.grad!.native);
    for (const t of [x, w, b, dy, a, rest, y]) t.dispose();
  });

  it('rejects mismatched inputs and weights, naming the op and shapes', () => {
    const a = native.full([2, 3, 4, 5], 1);
    const b = native.full([2, 2, 4, 5], 1);
    const wa = native.full([6, 3, 1, 1], 1);
    const wb = native.full([6, 2, 1, 1], 1);
    const bias = native.full([6], 0);
    const y = native.conv1x1Pair(a, wa, b, wb, bias);
    expect(y.shape).toEqual([2, 6, 4, 5]);
    expect(y.toArray()[0]).toBe(5);
    const bh = native.full([2, 2, 3, 5], 1);
    expect(() => native.conv1x1Pair(a, wa, bh, wb, bias)).toThrow(
      /^conv1x1Pair: a float32 \[2,3,4,5\] and b float32 \[2,2,3,5\] must agree in batch, height and width/,
    );
    expect(() => native.conv1x1Pair(a, wb, b, wb, bias)).toThrow(/^conv1x1Pair: weightA float32 \[6,2,1,1\] must be \[6,3,1,1\] for a float32 \[2,3,4,5\]/);
    const w3 = native.full([6, 2, 3, 3], 1);
    expect(() => native.conv1x1Pair(a, wa, b, w3, bias)).toThrow(/^conv1x1Pair: weightB float32 \[6,2,3,3\] must be \[6,2,1,1\]/);
    const b5 = native.full([5], 0);
    expect(() => native.conv1x1Pair(a, wa, b, wb, b5)).toThrow(/^conv1x1Pair: bias float32 \[5\] must have 6 entries/);
    expect(() => native.conv1x1Pair(a, wa, native.full([2, 2], 1), wb, null)).toThrow(/^conv1x1Pair: b float32 \[2,2\]: expected rank 4/);
    for (const t of [a, b, wa, wb, bias, y, bh, w3, b5]) t.dispose();
  });
});
