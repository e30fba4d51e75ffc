// F.dropout2d over the native channel dropout, seeded from lib/random.ts when no seed is given.
import { needsGrad, record } from '../autograd/tape.js';
import { native } from '../native/index.js';
import { defaultGenerator } from '../random.js';
import { Tensor } from '../tensor.js';
import { reshape } from './shape.js';
import { checkOptionNames } from './options.js';

export interface Dropout2dOptions {
  /** Probability of zeroing a whole channel, in [0, 1]; default 0.5. */
  p?: number;
  /** Identity when false; default true (torch.nn.functional's default). */
  training?: boolean;
  /** Non-negative integer. Without one a seed is drawn from the default generator (manualSeed). */
  seed?: number;
}

const DROPOUT_OPTIONS = ['p', 'training', 'seed'];

/**
 * Channel dropout of x [B, C, ...]: each (b, c) plane is zeroed with probability p, the rest
 * scaled by 1/(1-p). When not training or p = 0 the result is x itself (as a view, so it has its
 * own lifetime and gradients still flow).
 */
export function dropout2d(x: Tensor, options: Dropout2dOptions = {}): Tensor {
  checkOptionNames('dropout2d', options, DROPOUT_OPTIONS);
  const { p = 0.5, training = true } = options;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout2d: p must be in [0, 1], got ${String(p)}`);
  if (x.rank < 2) throw new Error(`dropout2d: x ${JSON.stringify(x.shape)} must be [B, C, ...]`);
  if (!training || p === 0) return reshape(x, x.shape);
  // Draw only when dropping, so evaluation does not move the default generator.
  const seed = options.seed ?? defaultGenerator.nextUint32();
  const r = native.dropout2d(x.native, { p, seed, training: true });
  const y = new Tensor(r.y);
  const mask = new Tensor(r.mask);
  if (!needsGrad(x)) {
    mask.dispose();
    return y;
  }
  record('dropout2d', [x], y, (g) => [new Tensor(native.dropout2dBackward(g.native, mask.native))], [mask]);
  // The mask belongs to the graph alone: freed when backward has used it.
  mask.releaseFromScope();
  return y;
}
