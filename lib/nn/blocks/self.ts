// APNB (the official `context.2`) and NonLocal (NB, the paper's Table 6 baseline): self attention
// over one feature map, then conv_bn_dropout(cat([out, x])).
import type { Generator } from '../../random.js';
import type { Tensor } from '../../tensor.js';
import { AttentionBlock, type AttentionBlockOptions } from './attention.js';
import { checkOptions, expectMap, positiveInt } from './options.js';
import { AnchorSampler, type Sampling } from './sampling.js';

export interface NonLocalOptions extends AttentionBlockOptions {
  inChannels: number;
  /** The official block has out = in (its fuse conv takes 2 * in); ours takes out + in. */
  outChannels: number;
}

export interface APNBOptions extends NonLocalOptions {
  /** Pyramid levels; default [1, 3, 6, 8] (S = 110). Plain sampling takes one size n (S = n^2). */
  sizes?: number[];
  /** Default 'pyramid-avg' (the official). */
  sampling?: Sampling;
}

const NB_OPTIONS = ['inChannels', 'outChannels', 'keyChannels', 'valueChannels', 'dropout', 'seed'];

abstract class SelfAttention extends AttentionBlock<[Tensor]> {
  readonly inChannels: number;

  protected constructor(options: NonLocalOptions, allowed: string[], makeSampler: (g: Generator | null) => AnchorSampler | null) {
    const name = new.target.name;
    checkOptions(name, options, allowed);
    const inChannels = positiveInt(name, 'inChannels', options.inChannels);
    super(name, options, { low: inChannels, high: inChannels }, true, makeSampler);
    this.inChannels = inChannels;
  }

  forward(x: Tensor): Tensor {
    expectMap(this.typeName, 'x', x, this.inChannels);
    const context = this.stages.at(0).attend(x, x, this.positions, this.trace);
    return this.fuse(context, x);
  }
}

/**
 * Asymmetric Pyramid Non-local Block (the official `context.2`): f_query is f_key, key and value
 * pooled into S anchors, softmax(q k^T / sqrt(keyChannels)) v, W (zero-initialised), then
 * Dropout2d(ReLU(BN(conv1x1(cat([out, x]))))). forward(x [B, in, H, W]) -> [B, out, H, W].
 */
export class APNB extends SelfAttention {
  readonly sampling: Sampling;
  readonly sizes: number[];

  constructor(options: APNBOptions) {
    super(options, [...NB_OPTIONS, 'sizes', 'sampling'], (g) => new AnchorSampler('APNB', options.sampling ?? 'pyramid-avg', options.sizes, g));
    const sampler = this.stages.at(0).sampler!;
    this.sampling = sampler.sampling;
    this.sizes = sampler.sizes;
  }
}

/** Non-local block (NB): APNB with every position as a key (S = H*W), the same names and fuse. */
export class NonLocal extends SelfAttention {
  constructor(options: NonLocalOptions) {
    super(options, NB_OPTIONS, () => null);
  }
}
