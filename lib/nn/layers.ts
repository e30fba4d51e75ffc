// The layers of torch.nn that a dilated ResNet and the ANN heads use, with PyTorch's default
// initialisation and state-dict names. Each forward is one F op.
import { conv2d } from '../ops/conv.js';
import { dropout2d } from '../ops/dropout.js';
import { batchNorm } from '../ops/norm.js';
import { maxPool2d, type MaxPool2dOptions } from '../ops/pool.js';
import { relu } from '../ops/arith.js';
import type { Pair } from '../native/index.js';
import { generatorFor, type Generator } from '../random.js';
import { full, nativeEmpty, nativeFull, Tensor } from '../tensor.js';
import { kaimingUniform_, uniform_, fans } from './init.js';
import { Module, Parameter } from './module.js';

export type { MaxPool2dOptions, Pair };

function pair(layer: string, name: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min))
    throw new Error(`${layer}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

function positiveInt(layer: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${layer}: ${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

function param(shape: number[]): Parameter {
  return new Parameter(nativeEmpty(shape));
}

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Only 1 (the native kernel's); present so a port from PyTorch fails loudly. */
  groups?: number;
  bias?: boolean;
  /** Seeds the initialisation; without it the default generator (manualSeed) is used. */
  seed?: number;
}

/** torch.nn.Conv2d: weight [out, in, kh, kw] ~ kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(options: Conv2dOptions) {
    super();
    const o = options;
    this.inChannels = positiveInt('Conv2d', 'inChannels', o.inChannels);
    this.outChannels = positiveInt('Conv2d', 'outChannels', o.outChannels);
    this.kernelSize = pair('Conv2d', 'kernelSize', o.kernelSize, 1);
    this.stride = pair('Conv2d', 'stride', o.stride ?? 1, 1);
    this.padding = pair('Conv2d', 'padding', o.padding ?? 0, 0);
    this.dilation = pair('Conv2d', 'dilation', o.dilation ?? 1, 1);
    if ((o.groups ?? 1) !== 1) throw new Error(`Conv2d: groups = ${o.groups} is not supported (groups = 1 only)`);
    this.registerParameter('weight', param([this.outChannels, this.inChannels, ...this.kernelSize]));
    this.registerParameter('bias', (o.bias ?? true) ? param([this.outChannels]) : null);
    this.resetParameters(generatorFor(o.seed));
  }

  get weight(): Parameter {
    return this.getParameter('weight')!;
  }
  get bias(): Parameter | null {
    return this.getParameter('bias');
  }

  /** PyTorch's reset_parameters(), with our generator. */
  resetParameters(generator?: Generator): void {
    const g = generator ?? generatorFor();
    kaimingUniform_(this.weight, { a: Math.sqrt(5), generator: g });
    const bias = this.bias;
    if (bias) {
      const bound = 1 / Math.sqrt(fans(this.weight.shape).fanIn);
      uniform_(bias, -bound, bound, { generator: g });
    }
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation });
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  /** Running-statistics factor; null averages over all batches (1 / num_batches_tracked). Default 0.1. */
  momentum?: number | null;
  /** Learnable weight (1) and bias (0); default true. */
  affine?: boolean;
  /** Keep running statistics for evaluation; default true. */
  trackRunningStats?: boolean;
}

/**
 * torch.nn.BatchNorm2d over [B, C, H, W]: weight 1, bias 0, running_mean 0, running_var 1 and
 * num_batches_tracked (int32), which counts training forwards.
 */
export class BatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, options: BatchNorm2dOptions = {}) {
    super();
    this.numFeatures = positiveInt('BatchNorm2d', 'numFeatures', numFeatures);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    const c = [numFeatures];
    this.registerParameter('weight', this.affine ? new Parameter(nativeFull(c, 1)) : null);
    this.registerParameter('bias', this.affine ? new Parameter(nativeFull(c, 0)) : null);
    const track = this.trackRunningStats;
    this.registerBuffer('running_mean', track ? full(c, 0) : null);
    this.registerBuffer('running_var', track ? full(c, 1) : null);
    this.registerBuffer('num_batches_tracked', track ? full([], 0, { dtype: 'int32' }) : null);
  }

  get weight(): Parameter | null {
    return this.getParameter('weight');
  }
  get bias(): Parameter | null {
    return this.getParameter('bias');
  }
  get runningMean(): Tensor | null {
    return this.getBuffer('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.getBuffer('running_var');
  }
  get numBatchesTracked(): Tensor | null {
    return this.getBuffer('num_batches_tracked');
  }

  protected override optionalStateKeys(): Record<string, number> {
    // PyTorch fills it with 0 for checkpoints saved before it existed (torchvision's ResNet weights).
    return { num_batches_tracked: 0 };
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4) throw new Error(`BatchNorm2d: expected 4D input [B, C, H, W], got ${JSON.stringify(x.shape)}`);
    let momentum = this.momentum ?? 0;
    const counted = this.training && this.trackRunningStats;
    if (counted) {
      const counter = this.numBatchesTracked!;
      const n = counter.item() + 1;
      this.replaceBuffer('num_batches_tracked', full([], n, { dtype: 'int32', device: counter.device }));
      if (this.momentum === null) momentum = 1 / n;
    }
    // Without running statistics the batch's are used in evaluation too, as PyTorch does.
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training || !this.trackRunningStats,
      momentum,
      eps: this.eps,
    });
  }
}

/** torch.nn.ReLU. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** torch.nn.Dropout2d: zeroes whole channels with probability p in training, identity in evaluation. */
export class Dropout2d extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`Dropout2d: p must be in [0, 1], got ${String(p)}`);
    this.p = p;
  }
  forward(x: Tensor): Tensor {
    return dropout2d(x, { p: this.p, training: this.training });
  }
}

/** torch.nn.MaxPool2d. */
export class MaxPool2d extends Module {
  readonly options: Required<MaxPool2dOptions>;
  constructor(options: MaxPool2dOptions) {
    super();
    if (options?.kernelSize === undefined) throw new Error('MaxPool2d: options.kernelSize is required');
    const kernelSize = pair('MaxPool2d', 'kernelSize', options.kernelSize, 1);
    this.options = {
      kernelSize,
      stride: pair('MaxPool2d', 'stride', options.stride ?? kernelSize, 1),
      padding: pair('MaxPool2d', 'padding', options.padding ?? 0, 0),
      dilation: pair('MaxPool2d', 'dilation', options.dilation ?? 1, 1),
      ceilMode: options.ceilMode ?? false,
    };
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

/** torch.nn.Identity: returns its input (the same tensor). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
