// The official ANN training loss: OHEM cross-entropy on the main logits + 0.4 x the aux head's
// weighted cross-entropy (openseg's FSAuxOhemCELoss).
import { tidy } from '../autograd/scope.js';
import { add, scale } from '../ops/arith.js';
import { crossEntropy, ohemCrossEntropy } from '../ops/loss.js';
import { checkOptionNames } from '../ops/options.js';
import type { Tensor } from '../tensor.js';
import type { ANNOutput } from './ann.js';

export interface ANNLossOptions {
  /** OHEM on the main logits (the official loss); false: plain weighted cross-entropy. Default true. */
  ohem?: boolean;
  /** OHEM's probability bound; default 0.7. */
  thresh?: number;
  /** OHEM keeps at least this many of the hardest pixels; default 100000. */
  minKept?: number;
  /** Class weights [numClasses], for both terms. */
  weight?: Tensor;
  /** Default 255. */
  ignoreIndex?: number;
  /** Default 0.4. */
  auxWeight?: number;
}

const LOSS_OPTIONS = ['ohem', 'thresh', 'minKept', 'weight', 'ignoreIndex', 'auxWeight'];

function checkTarget(out: ANNOutput, target: Tensor): void {
  if (!out || typeof out !== 'object' || !out.main || !out.aux) throw new Error('annLoss: expected the model output { aux, main }');
  const [b, , h, w] = out.main.shape;
  const t = target.shape;
  const where = `annLoss: target ${JSON.stringify(t)} (${target.dtype})`;
  if (target.dtype !== 'int32') throw new Error(`${where} must be int32 class indices`);
  if (t.length !== 3 || t[0] !== b || t[1] !== h || t[2] !== w)
    throw new Error(`${where} must be [B, H, W] = ${JSON.stringify([b, h, w])} for logits ${JSON.stringify(out.main.shape)}`);
  if (JSON.stringify(out.aux.shape) !== JSON.stringify(out.main.shape))
    throw new Error(`annLoss: aux logits ${JSON.stringify(out.aux.shape)} and main logits ${JSON.stringify(out.main.shape)} differ in shape`);
}

/**
 * The total loss (a scalar tensor) for the model's { aux, main } and int32 labels [B, H, W]:
 * main = ohemCrossEntropy (mean over the kept pixels of w[y] * -log p), aux = crossEntropy
 * (sum w[y] * nll / sum w[y]); total = main + auxWeight * aux. A label outside [0, K) other than
 * ignoreIndex throws.
 */
export function annLoss(out: ANNOutput, target: Tensor, options: ANNLossOptions = {}): Tensor {
  checkOptionNames('annLoss', options, LOSS_OPTIONS);
  const { ohem = true, thresh = 0.7, minKept = 100000, weight, ignoreIndex = 255, auxWeight = 0.4 } = options;
  checkTarget(out, target);
  if (typeof auxWeight !== 'number' || !Number.isFinite(auxWeight) || auxWeight < 0)
    throw new Error(`annLoss: auxWeight must be a non-negative number, got ${String(auxWeight)}`);
  const w = weight ? { weight } : {};
  return tidy(() => {
    const main = ohem
      ? ohemCrossEntropy(out.main, target, { thresh, minKept, ignoreIndex, ...w })
      : crossEntropy(out.main, target, { ignoreIndex, ...w });
    const aux = crossEntropy(out.aux, target, { ignoreIndex, ...w });
    return add(main, scale(aux, auxWeight));
  });
}
