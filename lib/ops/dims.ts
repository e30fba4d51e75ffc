// Dimension arguments as torch reads them, shared by Tensor's own view methods and the shape ops.
import type { Tensor } from '../tensor.js';

/** dim normalised to [0, rank); a 0-d tensor accepts 0 and -1, as torch. */
export function wrapDim(op: string, x: Tensor, dim: number, rank = x.rank): number {
  const span = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -span || dim >= span)
    throw new Error(`${op}: dimension ${dim} out of range for tensor ${JSON.stringify(x.shape)} (rank ${x.rank})`);
  return dim < 0 ? dim + span : dim;
}
