// Differentiable matrix products over the native BLAS matmul.
import { native } from '../native/index.js';
import { needsGrad, record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { reshape } from './shape.js';
import { commonDevice } from '../device.js';

const fmt = (t: Tensor) => JSON.stringify(t.shape);

/** x broadcast to shape as a copy; the gradient sums back. */
function expand(x: Tensor, shape: number[]): Tensor {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  const inShape = x.shape;
  const y = new Tensor(native.broadcastTo(x.native, shape));
  if (needsGrad(x)) record('expand', [x], y, (g) => [new Tensor(native.sumTo(g.native, inShape))]);
  return y;
}

/** The product of operands of rank >= 2 whose batch dims are equal, or where one is 2-D (shared). */
function matmulCore(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.matmul(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record(
      'matmul',
      [a, b],
      y,
      (g) => {
        let da: Tensor | null = null;
        let db: Tensor | null = null;
        if (a.requiresGrad) {
          const full = native.matmul(g.native, b.native, { transB: true });
          // A shared 2-D a was used by every batch: its gradient sums over them.
          if (sa.length === 2 && sb.length > 2) {
            da = new Tensor(native.sumTo(full, sa));
            full.dispose();
          } else da = new Tensor(full);
        }
        if (b.requiresGrad) {
          if (sb.length === 2 && sa.length > 2) {
            // Shared b: one product over all batch rows, a^T [K, rows] @ g [rows, N].
            const a2 = a.native.reshape([-1, sa[sa.length - 1]]);
            const g2 = g.native.reshape([-1, sb[1]]);
            db = new Tensor(native.matmul(a2, g2, { transA: true }));
            a2.dispose();
            g2.dispose();
          } else db = new Tensor(native.matmul(a.native, g.native, { transA: true }));
        }
        return [da, db];
      },
      [a, b],
    );
  }
  return y;
}

/**
 * torch.matmul: 1-D operands are promoted (a to a row, b to a column) and the added dimension
 * removed from the result; batch dimensions broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  commonDevice('matmul', [a, b]);
  if (a.rank === 0 || b.rank === 0)
    throw new Error(`matmul: both operands need at least 1 dimension, got ${fmt(a)} and ${fmt(b)}`);
  const [ra, rb] = [a.rank, b.rank];
  // Shapes first, so that a bad pair throws before any intermediate exists.
  const sa = ra === 1 ? [1, a.shape[0]] : a.shape;
  const sb = rb === 1 ? [b.shape[0], 1] : b.shape;
  const [ka, kb] = [sa[sa.length - 1], sb[sb.length - 2]];
  if (ka !== kb) throw new Error(`matmul: ${fmt(a)} @ ${fmt(b)}: inner dimensions differ (${ka} vs ${kb})`);
  const [batchA, batchB] = [sa.slice(0, -2), sb.slice(0, -2)];
  const sameBatch = batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i]);
  const batch = !sameBatch && batchA.length > 0 && batchB.length > 0 ? broadcastShapes(batchA, batchB, a, b) : null;
  const a2 = ra === 1 ? reshape(a, sa) : a;
  const b2 = rb === 1 ? reshape(b, sb) : b;
  const ea = batch ? expand(a2, [...batch, ...sa.slice(-2)]) : a2;
  const eb = batch ? expand(b2, [...batch, ...sb.slice(-2)]) : b2;
  const y = matmulCore(ea, eb);
  let out = y;
  if (ra === 1 || rb === 1) {
    const s = y.shape;
    out = reshape(y, [...s.slice(0, -2), ...(ra === 1 ? [] : [s[s.length - 2]]), ...(rb === 1 ? [] : [s[s.length - 1]])]);
  }
  // Intermediates are freed now, or when backward has used them, so matmul outside tidy leaks nothing.
  for (const t of new Set([a2, b2, ea, eb, y])) if (t !== a && t !== b && t !== out) t.releaseFromScope();
  return out;
}

function broadcastShapes(x: number[], y: number[], a: Tensor, b: Tensor): number[] {
  const n = Math.max(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const dx = x[x.length - n + i] ?? 1;
    const dy = y[y.length - n + i] ?? 1;
    if (dx !== dy && dx !== 1 && dy !== 1)
      throw new Error(`matmul: batch dimensions of ${fmt(a)} and ${fmt(b)} do not broadcast`);
    out.push(dx === 1 ? dy : dx);
  }
  return out;
}

/** torch.bmm: [B, N, M] @ [B, M, P] -> [B, N, P]. */
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0])
    throw new Error(`bmm: expected [B, N, M] and [B, M, P] with the same B, got ${fmt(a)} and ${fmt(b)}`);
  return matmul(a, b);
}
