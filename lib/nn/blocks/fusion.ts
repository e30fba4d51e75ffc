// AFNB (the official `fusion`), FusionNonLocal (FNB) and CommonFusion: blocks that fuse the
// low-level Stage4 feature into the high-level Stage5 one. forward(low, high), the official order.
import { add, relu } from '../../ops/arith.js';
import type { Generator } from '../../random.js';
import type { Tensor } from '../../tensor.js';
import { BatchNorm2d, Conv2d } from '../layers.js';
import { Module } from '../module.js';
import { AttentionBlock, seeded, type AttentionBlockOptions } from './attention.js';
import { checkOptions, expectMap, positiveInt, seedOf } from './options.js';
import { AnchorSampler, type Sampling } from './sampling.js';

export interface FusionNonLocalOptions extends AttentionBlockOptions {
  lowChannels: number;
  highChannels: number;
  /** The official block has out = high (2048); the fuse conv takes out + high. */
  outChannels: number;
}

export interface AFNBOptions extends FusionNonLocalOptions {
  /** Pyramid levels; default [1, 3, 6, 8] (S = 110). Plain sampling takes one size n (S = n^2). */
  sizes?: number[];
  /** Default 'pyramid-avg' (the official). */
  sampling?: Sampling;
}

const FNB_OPTIONS = ['lowChannels', 'highChannels', 'outChannels', 'keyChannels', 'valueChannels', 'dropout', 'seed'];

const fmt = (s: number[]) => `[${s.join(', ')}]`;

abstract class FusionAttention extends AttentionBlock<[Tensor, Tensor]> {
  readonly lowChannels: number;
  readonly highChannels: number;

  protected constructor(options: FusionNonLocalOptions, allowed: string[], makeSampler: (g: Generator | null) => AnchorSampler | null) {
    const name = new.target.name;
    checkOptions(name, options, allowed);
    const low = positiveInt(name, 'lowChannels', options.lowChannels);
    const high = positiveInt(name, 'highChannels', options.highChannels);
    super(name, options, { low, high }, false, makeSampler);
    this.lowChannels = low;
    this.highChannels = high;
  }

  /**
   * low [B, lowChannels, Hl, Wl] (Stage4), high [B, highChannels, H, W] (Stage5) -> [B, out, H, W].
   * Hl, Wl may differ from H, W: keys are pooled (or, in FNB, flattened) from low on their own,
   * and the official code reshapes the context to high's size only. In ANN they are the same.
   */
  forward(low: Tensor, high: Tensor): Tensor {
    const [bl] = expectMap(this.typeName, 'low', low, this.lowChannels);
    const [bh] = expectMap(this.typeName, 'high', high, this.highChannels);
    if (bl !== bh) throw new Error(`${this.typeName}: low ${fmt(low.shape)} and high ${fmt(high.shape)} have different batch sizes`);
    const context = this.stages.at(0).attend(low, high, this.positions, this.trace);
    return this.fuse(context, high);
  }
}

/**
 * Asymmetric Fusion Non-local Block (the official `fusion`): query from high, key and value from
 * low pooled into S anchors, softmax(q k^T / sqrt(keyChannels)) v, W (zero-initialised), then
 * Dropout2d(BN(conv1x1(cat([out, high])))).
 */
export class AFNB extends FusionAttention {
  readonly sampling: Sampling;
  readonly sizes: number[];

  constructor(options: AFNBOptions) {
    super(options, [...FNB_OPTIONS, 'sizes', 'sampling'], (g) => new AnchorSampler('AFNB', options.sampling ?? 'pyramid-avg', options.sizes, g));
    const sampler = this.stages.at(0).sampler!;
    this.sampling = sampler.sampling;
    this.sizes = sampler.sizes;
  }
}

/** Fusion non-local block (FNB): AFNB with every low position as a key (S = Hl*Wl), the same names. */
export class FusionNonLocal extends FusionAttention {
  constructor(options: FusionNonLocalOptions) {
    super(options, FNB_OPTIONS, () => null);
  }
}

export interface CommonFusionOptions {
  lowChannels: number;
  highChannels: number;
  /** Seeds the conv's initialisation; else the default generator (manualSeed). */
  seed?: number;
}

/**
 * OURS: the paper's Table 6 "+ Common fusion" row, which the official code does not contain:
 * high + ReLU(BN(conv1x1(low -> highChannels, no bias))), names `conv.weight` and `bn.*`.
 * low and high must have the same batch and spatial size.
 */
export class CommonFusion extends Module<[Tensor, Tensor]> {
  readonly lowChannels: number;
  readonly highChannels: number;
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(options: CommonFusionOptions) {
    super();
    checkOptions('CommonFusion', options, ['lowChannels', 'highChannels', 'seed']);
    this.lowChannels = positiveInt('CommonFusion', 'lowChannels', options.lowChannels);
    this.highChannels = positiveInt('CommonFusion', 'highChannels', options.highChannels);
    const seed = seedOf('CommonFusion', options.seed);
    this.conv = this.registerModule(
      'conv',
      new Conv2d({ inChannels: this.lowChannels, outChannels: this.highChannels, kernelSize: 1, bias: false, ...seeded(seed) }),
    );
    this.bn = this.registerModule('bn', new BatchNorm2d(this.highChannels));
  }

  forward(low: Tensor, high: Tensor): Tensor {
    const l = expectMap('CommonFusion', 'low', low, this.lowChannels);
    const h = expectMap('CommonFusion', 'high', high, this.highChannels);
    if (l.some((d, i) => d !== h[i]))
      throw new Error(`CommonFusion: low ${fmt(low.shape)} and high ${fmt(high.shape)} must agree in batch, height and width`);
    return add(high, relu(this.bn.call(this.conv.call(low))));
  }
}
