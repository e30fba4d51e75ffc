// Differentiable losses over the native fused kernels, and argmax.
import { native } from '../native/index.js';
import { needsGrad, record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { checkOptionNames } from './options.js';

export interface CrossEntropyOptions {
  /** Class weights [K]. */
  weight?: Tensor;
  /** Target value left out of the loss; default -100, as torch. */
  ignoreIndex?: number;
  /** Default 'mean': sum w[y] * nll / sum w[y] over pixels not ignored. */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * F.cross_entropy for logits [N, K] or [B, K, H, W] and int32 class targets [N] or [B, H, W];
 * differentiable in the logits (torch has no gradient for the weights either).
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  checkOptionNames('crossEntropy', opts, ['weight', 'ignoreIndex', 'reduction']);
  const { weight, ignoreIndex = -100, reduction = 'mean' } = opts;
  const nopts = { weight: weight?.native, ignoreIndex, reduction };
  const y = new Tensor(native.crossEntropy(logits.native, target.native, nopts).loss);
  if (needsGrad(logits)) {
    record(
      'crossEntropy',
      [logits],
      y,
      (g) => [new Tensor(native.crossEntropyBackward(g.native, logits.native, target.native, nopts))],
      weight ? [logits, target, weight] : [logits, target],
    );
  }
  return y;
}

export interface OhemCrossEntropyOptions {
  /** Pixels whose target-class probability is below the bound are kept; default 0.7. */
  thresh?: number;
  /** The bound rises to the minKept-th smallest probability when that is higher; default 100000. */
  minKept?: number;
  weight?: Tensor;
  /** Default 255 (Cityscapes' ignore label). */
  ignoreIndex?: number;
}

/**
 * The official ANN main loss (openseg's FSOhemCELoss): the plain mean, over the hard pixels
 * (target probability below max(thresh, minKept-th smallest)), of w[y] * -log p.
 */
export function ohemCrossEntropy(logits: Tensor, target: Tensor, opts: OhemCrossEntropyOptions = {}): Tensor {
  checkOptionNames('ohemCrossEntropy', opts, ['thresh', 'minKept', 'weight', 'ignoreIndex']);
  const { thresh = 0.7, minKept = 100000, weight, ignoreIndex = 255 } = opts;
  const nopts = { thresh, minKept, weight: weight?.native, ignoreIndex };
  const r = native.ohemCrossEntropy(logits.native, target.native, nopts);
  const y = new Tensor(r.loss);
  if (!needsGrad(logits)) {
    r.kept.dispose();
    return y;
  }
  // The forward's selection goes to the backward, which then skips recomputing it.
  const kept = new Tensor(r.kept);
  const threshold = r.threshold;
  record(
    'ohemCrossEntropy',
    [logits],
    y,
    (g) => [
      new Tensor(
        native.ohemCrossEntropyBackward(g.native, logits.native, target.native, {
          ...nopts,
          threshold,
          kept: kept.native,
        }),
      ),
    ],
    weight ? [logits, target, kept, weight] : [logits, target, kept],
  );
  // kept is owned by the graph alone: freed once backward has used it (or with the graph).
  kept.releaseFromScope();
  return y;
}

export interface ArgmaxOptions {
  /** Without it, the index into the flattened tensor. */
  dim?: number;
  keepdim?: boolean;
}

/** int32 indices of the maxima along dim (the first on ties, NaN counts as largest); no gradient. */
export function argmax(x: Tensor, opts: ArgmaxOptions = {}): Tensor {
  checkOptionNames('argmax', opts, ['dim', 'keepdim']);
  const { dim, keepdim = false } = opts;
  const shape = x.shape;
  if (dim === undefined || shape.length === 0) {
    if (shape.length === 0 && dim !== undefined && dim !== 0 && dim !== -1)
      throw new Error(`argmax: dimension ${dim} out of range for a 0-d tensor`);
    const flat = x.native.reshape([-1]);
    try {
      const idx = native.argmax(flat, { axis: 0 });
      const outShape = keepdim && dim === undefined ? shape.map(() => 1) : keepdim ? shape : [];
      const out = idx.reshape(outShape);
      idx.dispose();
      return new Tensor(out);
    } finally {
      flat.dispose();
    }
  }
  const idx = native.argmax(x.native, { axis: dim });
  if (!keepdim) return new Tensor(idx);
  const axis = dim < 0 ? dim + shape.length : dim;
  const out = idx.reshape(shape.map((d, i) => (i === axis ? 1 : d)));
  idx.dispose();
  return new Tensor(out);
}
