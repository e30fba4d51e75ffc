// F.batchNorm over the native batch norm, in torch.nn.functional.batch_norm's argument order.
import { needsGrad, record } from '../autograd/tape.js';
import { native } from '../native/index.js';
import { Tensor } from '../tensor.js';
import { checkOptionNames } from './options.js';

export interface BatchNormOptions {
  /** Normalise with the batch statistics and update the running ones (default false). */
  training?: boolean;
  /** Running-statistics update factor in [0, 1]; default 0.1. */
  momentum?: number;
  /** Added to the variance; default 1e-5. */
  eps?: number;
}

const BN_OPTIONS = ['training', 'momentum', 'eps'];

/**
 * Batch norm over x [B,C], [B,C,L] or [B,C,H,W] per channel. In training runningMean/runningVar
 * (if given) are updated IN PLACE with momentum and the unbiased batch variance, as PyTorch does;
 * in evaluation they are required and used to normalise. Gradients flow to x, weight and bias.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  checkOptionNames('batchNorm', options, BN_OPTIONS);
  const { training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))
    throw new Error(`batchNorm: momentum must be a number in [0, 1], got ${String(momentum)}`);
  if (typeof eps !== 'number' || !(eps >= 0)) throw new Error(`batchNorm: eps must be a non-negative number, got ${String(eps)}`);
  // The running statistics are buffers written in place; a graph through them would be wrong.
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar]] as const)
    if (t?.requiresGrad) throw new Error(`batchNorm: ${name} ${JSON.stringify(t.shape)} is a buffer and must not require grad`);
  const w = weight ?? null;
  const b = bias ?? null;
  const r = native.batchNorm(x.native, w?.native ?? null, b?.native ?? null, runningMean?.native ?? null, runningVar?.native ?? null, {
    training,
    momentum,
    eps,
  });
  const y = new Tensor(r.y);
  const mean = new Tensor(r.saveMean);
  const invstd = new Tensor(r.saveInvstd);
  if (!needsGrad(x, w, b)) {
    mean.dispose();
    invstd.dispose();
    return y;
  }
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  record(
    'batchNorm',
    inputs,
    y,
    (g) => {
      const grads = native.batchNormBackward(g.native, x.native, w?.native ?? null, mean.native, invstd.native, {
        training,
        needInput: x.requiresGrad,
        needWeight: w?.requiresGrad ?? false,
        needBias: b?.requiresGrad ?? false,
      });
      const wrap = (t?: typeof grads.dx) => (t ? new Tensor(t) : null);
      return [wrap(grads.dx), ...(w ? [wrap(grads.dweight)] : []), ...(b ? [wrap(grads.dbias)] : [])];
    },
    [x, mean, invstd, ...(w ? [w] : [])],
  );
  // Only the graph holds these two: they go when backward has run or the graph is dropped.
  mean.releaseFromScope();
  invstd.releaseFromScope();
  return y;
}
