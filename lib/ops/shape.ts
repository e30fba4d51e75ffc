// Differentiable shape ops: views and layout copies.
import { native } from '../native/index.js';
import { needsGrad, record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { wrapDim } from './dims.js';

// reshape, permute and transpose are Tensor's own methods (tensor.ts), so Tensor needs nothing
// from this module; the F forms call them.

/** A view with another shape of the same size (one dimension may be -1). */
export function reshape(x: Tensor, shape: number[]): Tensor {
  return x.reshape(shape);
}

/** Reorders the dimensions (a contiguous copy, as tensors are always contiguous here). */
export function permute(x: Tensor, dims: number[]): Tensor {
  return x.permute(dims);
}

/** Swaps two dimensions. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  return x.transpose(dim0, dim1);
}

/** Merges dimensions startDim..endDim into one (a 0-d tensor becomes [1]). */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  const shape = x.shape;
  if (shape.length === 0) {
    wrapDim('flatten', x, startDim);
    wrapDim('flatten', x, endDim);
    return reshape(x, [1]);
  }
  const [s, e] = [wrapDim('flatten', x, startDim), wrapDim('flatten', x, endDim)];
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} for tensor ${JSON.stringify(shape)}`);
  const merged = shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...shape.slice(0, s), merged, ...shape.slice(e + 1)]);
}

/** Inserts a dimension of size 1 at dim (in [-rank-1, rank]). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = wrapDim('unsqueeze', x, dim, x.rank + 1);
  const shape = x.shape;
  return reshape(x, [...shape.slice(0, d), 1, ...shape.slice(d)]);
}

/** Removes size-1 dimensions: all of them, or those among dim (a listed dim of another size stays, as torch). */
export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  const shape = x.shape;
  const listed = dim === undefined ? null : new Set((typeof dim === 'number' ? [dim] : dim).map((d) => wrapDim('squeeze', x, d)));
  return reshape(
    x,
    shape.filter((n, i) => n !== 1 || (listed !== null && !listed.has(i))),
  );
}

/** Concatenates along dim; the tensors agree on every other dimension. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error('cat: expected a non-empty array of tensors');
  const axis = wrapDim('cat', tensors[0], dim);
  const y = new Tensor(
    native.cat(
      tensors.map((t) => t.native),
      axis,
    ),
  );
  if (needsGrad(...tensors)) {
    const sizes = tensors.map((t) => t.shape[axis]);
    record('cat', tensors, y, (g) => {
      const pieces = native.split(g.native, axis, sizes);
      return pieces.map((p, i) => {
        if (tensors[i].requiresGrad) return new Tensor(p);
        p.dispose();
        return null;
      });
    });
  }
  return y;
}

/**
 * torch.split: pieces of `size` along dim (the last may be smaller), or of the given sizes (summing
 * to the dimension). Each piece is differentiable on its own; an unused piece contributes nothing.
 */
export function split(x: Tensor, sizes: number | number[], dim = 0): Tensor[] {
  if (x.rank === 0) throw new Error('split: cannot split a 0-d tensor');
  const axis = wrapDim('split', x, dim);
  const n = x.shape[axis];
  let list: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0)
      throw new Error(`split: size must be a positive integer, got ${sizes} for tensor ${JSON.stringify(x.shape)}`);
    list = Array.from({ length: Math.ceil(n / sizes) }, (_, i) => Math.min(sizes, n - i * sizes));
  } else {
    if (!Array.isArray(sizes) || sizes.reduce((a, b) => a + b, 0) !== n)
      throw new Error(`split: sizes ${JSON.stringify(sizes)} do not sum to ${n}, dimension ${dim} of tensor ${JSON.stringify(x.shape)}`);
    list = sizes;
  }
  const pieces = native.split(x.native, axis, list).map((p) => new Tensor(p));
  if (needsGrad(x)) {
    let start = 0;
    for (const [i, p] of pieces.entries()) {
      const at = start;
      start += list[i];
      // One node per piece: the tape has single-output nodes, and the gradients add up in x.
      record('split', [x], p, (g) => [new Tensor(native.narrowBackward(g.native, axis, at, n))]);
    }
  }
  return pieces;
}

/** The slice [start, start + length) along dim, as a copy; start may be negative (from the end). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const axis = wrapDim('narrow', x, dim);
  const y = new Tensor(native.narrow(x.native, axis, start, length));
  if (needsGrad(x)) {
    const n = x.shape[axis];
    record('narrow', [x], y, (g) => [new Tensor(native.narrowBackward(g.native, axis, start, n))]);
  }
  return y;
}
