// Differentiable shape ops: views and layout copies.
import { native } from '../native/index.js';
import { needsGrad, record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';

/** A view with another shape of the same size (one dimension may be -1). */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const inShape = x.shape;
  const y = new Tensor(x.native.reshape(shape));
  if (needsGrad(x)) record('reshape', [x], y, (g) => [new Tensor(g.native.reshape(inShape))]);
  return y;
}

/** Reorders the dimensions (a contiguous copy, as tensors are always contiguous here). */
export function permute(x: Tensor, dims: number[]): Tensor {
  const y = new Tensor(native.permute(x.native, dims));
  if (needsGrad(x)) {
    const rank = dims.length;
    const inverse = new Array<number>(rank);
    dims.forEach((d, i) => (inverse[d < 0 ? d + rank : d] = i));
    record('permute', [x], y, (g) => [new Tensor(native.permute(g.native, inverse))]);
  }
  return y;
}

/** Swaps two dimensions. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const rank = x.rank;
  const norm = (d: number) => {
    if (!Number.isInteger(d) || d < -rank || d >= rank)
      throw new Error(`transpose: dimension ${d} out of range for tensor ${JSON.stringify(x.shape)}`);
    return d < 0 ? d + rank : d;
  };
  const dims = x.shape.map((_, i) => i);
  const [a, b] = [norm(dim0), norm(dim1)];
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}
