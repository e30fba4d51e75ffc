// The official `_SelfAttentionBlock` (registered as `stages.0` of APNB and AFNB): the asymmetric
// attention core of ANN-SEMANTICS.md, with the official parameter names.
import { keep, tidy } from '../../autograd/scope.js';
import { noGrad } from '../../autograd/tape.js';
import { native } from '../../native/index.js';
import { add } from '../../ops/arith.js';
import { asymmetricAttention } from '../../ops/attention.js';
import { conv1x1Pair } from '../../ops/conv.js';
import { matmul } from '../../ops/linalg.js';
import { narrow, reshape, transpose } from '../../ops/shape.js';
import { Generator } from '../../random.js';
import { Tensor } from '../../tensor.js';
import { ModuleList, Sequential } from '../containers.js';
import { zeros_ } from '../init.js';
import { BatchNorm2d, Conv2d, Dropout2d, ReLU } from '../layers.js';
import { Module } from '../module.js';
import { dropoutP, positiveInt, seedOf } from './options.js';
import { allPositions, type AnchorSampler } from './sampling.js';

/** What a traced forward stores: detached copies the caller owns (and disposes). */
export type Trace = Record<string, Tensor>;

export interface AttentionStageOptions {
  lowChannels: number;
  highChannels: number;
  keyChannels: number;
  valueChannels: number;
  outChannels: number;
  /** APNB: f_query IS f_key (one module under both names). */
  shared: boolean;
  /** null: every key position is an anchor (NB, FNB). */
  sampler: AnchorSampler | null;
  /** Seeds for the three or four convs' initialisation, drawn in registration order. */
  nextSeed: () => number | undefined;
}

/** Conv2d options with a seed only when one is given (else the default generator draws). */
export function seeded(seed: number | undefined): { seed: number } | object {
  return seed === undefined ? {} : { seed };
}

function conv(inChannels: number, outChannels: number, seed: number | undefined): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 1, ...seeded(seed) });
}

/** conv1x1 (bias) -> BN -> ReLU, the BN+ReLU nested as the official ModuleHelper.BNReLU (`.1.0`). */
function keyProjection(inChannels: number, keyChannels: number, seed: number | undefined): Sequential {
  return new Sequential(conv(inChannels, keyChannels, seed), new Sequential(new BatchNorm2d(keyChannels), new ReLU()));
}

/** Replaces trace[name] with a detached copy of t that outlives every tidy scope. */
function store(trace: Trace, name: string, t: Tensor): void {
  trace[name]?.dispose();
  trace[name] = keep(t.detachedCopy());
}

export class AttentionStage extends Module<[Tensor, Tensor]> {
  readonly keyChannels: number;
  readonly valueChannels: number;
  readonly sampler: AnchorSampler | null;
  readonly fKey: Sequential;
  readonly fQuery: Sequential;
  readonly fValue: Conv2d;
  readonly W: Conv2d;

  constructor(o: AttentionStageOptions) {
    super();
    this.keyChannels = o.keyChannels;
    this.valueChannels = o.valueChannels;
    this.sampler = o.sampler;
    this.fKey = this.registerModule('f_key', keyProjection(o.lowChannels, o.keyChannels, o.nextSeed()));
    this.fQuery = this.registerModule('f_query', o.shared ? this.fKey : keyProjection(o.highChannels, o.keyChannels, o.nextSeed()));
    this.fValue = this.registerModule('f_value', conv(o.lowChannels, o.valueChannels, o.nextSeed()));
    this.W = this.registerModule('W', conv(o.valueChannels, o.outChannels, o.nextSeed()));
    // Zero, as the official code: at initialisation the branch adds nothing.
    zeros_(this.W.weight);
    zeros_(this.W.bias!);
  }

  /** W(attention(query from high, key and value from low)) -> [B, out, H, W] of high. */
  forward(low: Tensor, high: Tensor): Tensor {
    return this.W.call(this.attend(low, high, null, null));
  }

  /**
   * attention(query from high, key and value from low) -> the context [B, Cv, H, W] of high,
   * before W (the blocks fold W into their fuse conv). `given` replaces the random positions
   * (random sampling only); `trace` receives the intermediates, `out` = W(context) among them.
   */
  attend(low: Tensor, high: Tensor, given: Tensor | null, trace: Trace | null): Tensor {
    const [b, , h, w] = high.shape;
    const sampler = this.sampler;
    let positions: Tensor | null = null;
    if (sampler?.random) {
      if (given) sampler.check(given, b);
      positions = given ?? sampler.draw(b, low.shape[2], low.shape[3], low.device);
    }
    const anchors = (t: Tensor) => transpose(sampler ? sampler.pool(t, positions) : allPositions(t), 1, 2);

    const value = anchors(this.fValue.call(low));
    const queryMap = this.fQuery.call(high);
    // Training calls the shared module twice, as the official code does: its BN running statistics
    // are updated twice. In evaluation the second call would give the same tensor.
    const reuse = this.fKey === this.fQuery && low === high && !this.fKey.training;
    const key = anchors(reuse ? queryMap : this.fKey.call(low));
    const query = transpose(reshape(queryMap, [b, this.keyChannels, h * w]), 1, 2);

    const scale = this.keyChannels ** -0.5;
    const attended = asymmetricAttention(query, key, value, { scale });
    const context = reshape(transpose(attended, 1, 2), [b, this.valueChannels, h, w]);

    if (trace) {
      store(trace, 'query', query);
      store(trace, 'key', key);
      store(trace, 'value', value);
      trace.weights?.dispose();
      trace.weights = keep(new Tensor(native.attentionWeights(query.native, key.native, { scale })));
      store(trace, 'context', context);
      store(trace, 'out', noGrad(() => this.W.call(context)));
      if (positions) store(trace, 'positions', positions);
    }
    // Drawn positions belong to the graph alone (gatherPositions saved them): freed once it is done.
    if (positions && positions !== given) positions.releaseFromScope();
    return context;
  }
}

export interface AttentionBlockOptions {
  outChannels: number;
  keyChannels: number;
  valueChannels: number;
  /** Dropout2d after the fuse; default 0.05. */
  dropout?: number;
  /** Seeds the initialisation (and the random anchors); else the default generator (manualSeed). */
  seed?: number;
}

/**
 * What APNB/NB and AFNB/FNB share: the attention stage under `stages.0` and the fuse under
 * `conv_bn_dropout` (conv1x1 over cat([out, high]) -> BN [-> ReLU] -> Dropout2d). One seed
 * initialises all convs, drawn in registration order.
 */
export abstract class AttentionBlock<Args extends unknown[]> extends Module<Args> {
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
   * (the caller owns them). Ignored by the other samplings and by NB/FNB.
   */
  positions: Tensor | null = null;
  readonly stages: ModuleList<AttentionStage>;
  readonly convBnDropout: Sequential;
  /**
   * Whether W is folded into the fuse conv (see fuse()): 'auto' (the default) folds when it saves
   * work, that is when the B*H*W positions outnumber C*Cv / (C + Cv) (the fold's [C,C]x[C,Cv]
   * product costs about that many positions' W and fuse-half products); true or false force it.
   * Both give the same function within float rounding.
   */
  foldW: 'auto' | boolean = 'auto';

  /**
   * `self`: self attention (APNB, NB): f_query is f_key and the fuse BN is the official BNReLU
   * (`conv_bn_dropout.1.0`); otherwise (AFNB, FNB) separate projections and a plain BN (`.1`).
   */
  protected constructor(
    name: string,
    o: AttentionBlockOptions,
    channels: { low: number; high: number },
    self: boolean,
    makeSampler: (g: Generator | null) => AnchorSampler | null,
  ) {
    super();
    this.outChannels = positiveInt(name, 'outChannels', o.outChannels);
    this.keyChannels = positiveInt(name, 'keyChannels', o.keyChannels);
    this.valueChannels = positiveInt(name, 'valueChannels', o.valueChannels);
    this.dropout = dropoutP(name, o.dropout ?? 0.05);
    const seed = seedOf(name, o.seed);
    const g = seed === undefined ? null : new Generator(seed);
    const nextSeed = () => g?.nextUint32();
    const stage = new AttentionStage({
      lowChannels: channels.low,
      highChannels: channels.high,
      keyChannels: this.keyChannels,
      valueChannels: this.valueChannels,
      outChannels: this.outChannels,
      shared: self,
      sampler: makeSampler(g),
      nextSeed,
    });
    this.stages = this.registerModule('stages', new ModuleList([stage]));
    const fuseIn = this.outChannels + channels.high;
    const fuse = new Conv2d({ inChannels: fuseIn, outChannels: this.outChannels, kernelSize: 1, ...seeded(nextSeed()) });
    const bn = self ? new Sequential(new BatchNorm2d(this.outChannels), new ReLU()) : new BatchNorm2d(this.outChannels);
    this.convBnDropout = this.registerModule('conv_bn_dropout', new Sequential(fuse, bn, new Dropout2d(this.dropout)));
  }

  /**
   * conv_bn_dropout(cat([W(context), skip])) with W folded into the fuse conv, which is exact
   * because W (a 1x1 conv with bias) feeds nothing but the fuse conv's first C = outChannels
   * input channels, with nothing between them: for F = [F1 | F2],
   *   fuse(cat[W ctx + bW, skip]) = (F1 W) ctx + F2 skip + (F1 bW + bF),
   * so one [Cout, C] x [C, Cv] product per step replaces an N x Cv x C GEMM and the N x C x C
   * half of the fuse, and autograd through F1 W gives dF1 = dM W^T + dc bW^T, dW = F1^T dM,
   * dbW = F1^T dc exactly. The remaining conv over [ctx, skip] is two GEMMs into one output
   * (conv1x1Pair): no concatenation buffer. The fold would not hold with a BN, a dropout or a
   * non-linearity after W (as in some non-local variants); none is there in ANN's blocks. At
   * tiny sizes (foldW) W runs as a conv and only the concatenation is skipped.
   */
  protected fuse(context: Tensor, skip: Tensor): Tensor {
    const W = this.stages.at(0).W;
    const conv = this.convBnDropout.at(0) as Conv2d;
    const C = this.outChannels;
    const Cv = this.valueChannels;
    const [b, , h, w] = context.shape;
    const fold = this.foldW === 'auto' ? b * h * w * (C + Cv) > C * Cv : this.foldW;
    const fused = tidy(() => {
      const F1 = narrow(conv.weight, 1, 0, C);
      const F2 = narrow(conv.weight, 1, C, skip.shape[1]);
      if (!fold) return conv1x1Pair(W.call(context), F1, skip, F2, conv.bias);
      const F1m = reshape(F1, [C, C]);
      const M = reshape(matmul(F1m, reshape(W.weight, [C, Cv])), [C, Cv, 1, 1]);
      const bias = add(reshape(matmul(F1m, reshape(W.bias!, [C, 1])), [C]), conv.bias!);
      return conv1x1Pair(context, M, skip, F2, bias);
    });
    context.releaseFromScope();
    let y = fused;
    for (let i = 1; i < this.convBnDropout.length; i++) {
      const next = this.convBnDropout.at(i).call(y);
      y.releaseFromScope(); // the graph keeps what backward reads
      y = next;
    }
    return y;
  }
}
