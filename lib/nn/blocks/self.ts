// APNB (the official `context.2`) and NonLocal (NB, the paper's Table 6 baseline): self attention
// over one feature map, then conv_bn_dropout(cat([out, x])).
import type { Generator } from '../../random.js';
import type { Tensor } from '../../tensor.js';
import type { ModuleList, Sequential } from '../containers.js';
import { Module } from '../module.js';
import { fuseWithSkip, registerAttentionParts, type AttentionStage, type Trace } from './attention.js';
import { checkOptions, dropoutP, expectMap, positiveInt, seedOf } from './options.js';
import { AnchorSampler, type Sampling } from './sampling.js';

export interface NonLocalOptions {
  inChannels: number;
  /** The official block has out = in (its fuse conv takes 2 * in); ours takes out + in. */
  outChannels: number;
  keyChannels: number;
  valueChannels: number;
  /** Dropout2d after the fuse; default 0.05. */
  dropout?: number;
  /** Seeds the initialisation (and APNB's random anchors); else the default generator (manualSeed). */
  seed?: number;
}

export interface APNBOptions extends NonLocalOptions {
  /** Pyramid levels; default [1, 3, 6, 8] (S = 110). Plain sampling takes one size n (S = n^2). */
  sizes?: number[];
  /** Default 'pyramid-avg' (the official). */
  sampling?: Sampling;
}

const NB_OPTIONS = ['inChannels', 'outChannels', 'keyChannels', 'valueChannels', 'dropout', 'seed'];

abstract class SelfAttention extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly keyChannels: number;
  readonly valueChannels: number;
  readonly dropout: number;
  /**
   * Set to an object to record the last forward's query [B,N,Ck], key [B,S,Ck], value [B,S,Cv],
   * weights [B,N,S], context [B,Cv,H,W] (before W), out (after W) and, when random, positions
   * [B,S]: detached copies that outlive tidy(); the caller disposes them (a later traced forward
   * disposes the ones it replaces). The weights are materialised only while tracing.
   */
  trace: Trace | null = null;
  /**
   * For tests: int32 [B, S] positions that random sampling reads instead of drawing new ones
   * (the caller owns them). Ignored by the other samplings and by NB.
   */
  positions: Tensor | null = null;
  readonly stages: ModuleList<AttentionStage>;
  readonly convBnDropout: Sequential;

  protected constructor(options: NonLocalOptions, allowed: string[], makeSampler: (g: Generator | null) => AnchorSampler | null) {
    super();
    const name = new.target.name;
    checkOptions(name, options, allowed);
    this.inChannels = positiveInt(name, 'inChannels', options.inChannels);
    this.outChannels = positiveInt(name, 'outChannels', options.outChannels);
    this.keyChannels = positiveInt(name, 'keyChannels', options.keyChannels);
    this.valueChannels = positiveInt(name, 'valueChannels', options.valueChannels);
    this.dropout = dropoutP(name, options.dropout ?? 0.05);
    const parts = registerAttentionParts(this, {
      lowChannels: this.inChannels,
      highChannels: this.inChannels,
      outChannels: this.outChannels,
      keyChannels: this.keyChannels,
      valueChannels: this.valueChannels,
      dropout: this.dropout,
      self: true,
      seed: seedOf(name, options.seed),
      makeSampler,
    });
    this.stages = parts.stages;
    this.convBnDropout = parts.convBnDropout;
  }

  forward(x: Tensor): Tensor {
    expectMap(this.typeName, 'x', x, this.inChannels);
    const out = this.stages.at(0).attend(x, x, this.positions, this.trace);
    return fuseWithSkip(this.convBnDropout, out, x);
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
