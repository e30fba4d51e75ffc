// The ANN backbone: the official dilated "deep base" ResNet (MendelXu/ANN, openseg), output stride 8,
// under the official module names (prefix.conv1 ... layerN.i.downsample.1), so depth 101 at width 1
// loads the official checkpoint's `backbone.` keys. PyTorch twin: test/reference/ann_ref_backbone.py.
//
// OURS, not in the paper: depths 18 and 34 (basic blocks) and the `width` multiplier, for small
// configurations that train on a CPU.
import { add, relu } from '../ops/arith.js';
import { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { Sequential } from './containers.js';
import { BatchNorm2d, Conv2d, MaxPool2d } from './layers.js';
import { Module } from './module.js';

export type ResNetDepth = 18 | 34 | 50 | 101 | 152;

/** Blocks per layer (layer1..layer4). */
const LAYERS: Record<ResNetDepth, readonly [number, number, number, number]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

/** The ratio of input size to stage4/stage5 size (ceil-mode pooling rounds up). */
export const OUTPUT_STRIDE = 8;

export interface DilatedResNetOptions {
  /** 50, 101 (the paper's) or 152: bottlenecks; 18 or 34 (OURS): basic blocks. */
  depth: ResNetDepth;
  /** OURS: multiplies every channel count, see scaleChannels (default 1, the official network). */
  width?: number;
  /** Seeds the initialisation; without it the default generator (manualSeed) is used. */
  seed?: number;
}

export interface BackboneFeatures {
  /** layer3's output [B, stage4Channels, ceil(H/8), ceil(W/8)]. */
  stage4: Tensor;
  /** layer4's output [B, stage5Channels, ceil(H/8), ceil(W/8)]. */
  stage5: Tensor;
}

/**
 * The width rule: channel count c becomes max(1, round(c * width)), halves rounded up. It applies
 * to the stem's 64/64/128 and to each layer's planes (64/128/256/512); a bottleneck's output is
 * the scaled planes times 4, so the expansion stays exact.
 */
export function scaleChannels(channels: number, width: number): number {
  return Math.max(1, Math.floor(channels * width + 0.5));
}

/** Conv seeds drawn from one generator, so one seed fixes the whole network. */
type Seeds = () => number | undefined;

function conv3x3(inChannels: number, outChannels: number, seed: number | undefined, stride = 1, dilation = 1): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 3, stride, padding: dilation, dilation, bias: false, seed });
}

function conv1x1(inChannels: number, outChannels: number, seed: number | undefined, stride = 1): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 1, stride, bias: false, seed });
}

interface BlockArgs {
  inplanes: number;
  planes: number;
  stride: number;
  dilation: number;
  /** conv1x1 + BN, made by the layer when the shortcut changes stride or channels. */
  downsample: Sequential | null;
  seeds: Seeds;
}

/** OURS (depths 18/34): conv3x3-bn-relu-conv3x3-bn + shortcut, relu; both 3x3 convs take the block's dilation. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor({ inplanes, planes, stride, dilation, downsample, seeds }: BlockArgs) {
    super();
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, seeds(), stride, dilation));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, seeds(), 1, dilation));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = this.registerModule('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    const out = this.bn2.call(this.conv2.call(relu(this.bn1.call(this.conv1.call(x)))));
    return relu(add(out, this.downsample ? this.downsample.call(x) : x));
  }
}

/** The official bottleneck: conv1x1-bn-relu, conv3x3 (stride, dilation)-bn-relu, conv1x1 (x4)-bn + shortcut, relu. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor({ inplanes, planes, stride, dilation, downsample, seeds }: BlockArgs) {
    super();
    this.conv1 = this.registerModule('conv1', conv1x1(inplanes, planes, seeds()));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, seeds(), stride, dilation));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', conv1x1(planes, planes * Bottleneck.expansion, seeds()));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * Bottleneck.expansion));
    this.downsample = this.registerModule('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    let out = relu(this.bn1.call(this.conv1.call(x)));
    out = relu(this.bn2.call(this.conv2.call(out)));
    out = this.bn3.call(this.conv3.call(out));
    return relu(add(out, this.downsample ? this.downsample.call(x) : x));
  }
}

/** The deep-base stem (official `prefix`): three conv3x3-bn-relu, stride 2 on the first. */
export class DeepBaseStem extends Module {
  readonly convs: Conv2d[] = [];
  readonly bns: BatchNorm2d[] = [];

  constructor(channels: [number, number, number], seeds: Seeds) {
    super();
    let inChannels = 3;
    channels.forEach((c, i) => {
      this.convs.push(this.registerModule(`conv${i + 1}`, conv3x3(inChannels, c, seeds(), i === 0 ? 2 : 1)));
      this.bns.push(this.registerModule(`bn${i + 1}`, new BatchNorm2d(c)));
      inChannels = c;
    });
  }

  forward(x: Tensor): Tensor {
    this.convs.forEach((conv, i) => (x = relu(this.bns[i].call(conv.call(x)))));
    return x;
  }
}

/**
 * The dilated ResNet of ANN: deep-base stem, max pool 3x3/2 (padding 1, ceil mode), layer1 (stride
 * 1), layer2 (stride 2), layer3 (dilation 1 in block 0, then 2), layer4 (dilation 2 in block 0,
 * then 4); output stride 8. forward returns layer3's output (stage4) and layer4's (stage5).
 *
 * ```ts
 * const backbone = new nn.DilatedResNet({ depth: 101 });          // the official one
 * const small = new nn.DilatedResNet({ depth: 18, width: 0.25 }); // OURS, for CPU runs
 * const { stage4, stage5 } = backbone.call(x);                    // x [B, 3, H, W]
 * ```
 */
export class DilatedResNet extends Module<[Tensor], BackboneFeatures> {
  readonly depth: ResNetDepth;
  readonly width: number;
  readonly stage4Channels: number;
  readonly stage5Channels: number;
  readonly prefix: DeepBaseStem;
  readonly maxpool: MaxPool2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;

  constructor({ depth, width = 1, seed }: DilatedResNetOptions) {
    super();
    if (!Number.isInteger(depth) || !Object.hasOwn(LAYERS, depth))
      throw new Error(`DilatedResNet: unsupported depth ${String(depth)} (supported: ${Object.keys(LAYERS).join(', ')})`);
    if (typeof width !== 'number' || !Number.isFinite(width) || width <= 0)
      throw new Error(`DilatedResNet: width must be a positive number, got ${String(width)}`);
    if (seed !== undefined && !Number.isSafeInteger(seed))
      throw new Error(`DilatedResNet: seed must be an integer, got ${String(seed)}`);
    this.depth = depth;
    this.width = width;
    const generator = seed === undefined ? null : new Generator(seed);
    const seeds: Seeds = () => generator?.nextUint32();
    const c = (n: number) => scaleChannels(n, width);

    this.prefix = this.registerModule('prefix', new DeepBaseStem([c(64), c(64), c(128)], seeds));
    this.maxpool = this.registerModule('maxpool', new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1, ceilMode: true }));
    const Block = depth < 50 ? BasicBlock : Bottleneck;
    const blocks = LAYERS[depth];
    let inplanes = c(128);
    const layer = (name: string, planes: number, count: number, stride: number, dilation: number) => {
      const out = planes * Block.expansion;
      const downsample =
        stride !== 1 || inplanes !== out ? new Sequential(conv1x1(inplanes, out, seeds(), stride), new BatchNorm2d(out)) : null;
      // The first block of a dilated layer keeps the previous layer's dilation (1 -> 2 -> 4), as the official code.
      const seq = new Sequential(new Block({ inplanes, planes, stride, dilation: dilation === 4 ? 2 : 1, downsample, seeds }));
      inplanes = out;
      for (let i = 1; i < count; i++) seq.append(new Block({ inplanes, planes, stride: 1, dilation, downsample: null, seeds }));
      return this.registerModule(name, seq);
    };
    this.layer1 = layer('layer1', c(64), blocks[0], 1, 1);
    this.layer2 = layer('layer2', c(128), blocks[1], 2, 1);
    this.layer3 = layer('layer3', c(256), blocks[2], 1, 2);
    this.layer4 = layer('layer4', c(512), blocks[3], 1, 4);
    this.stage4Channels = c(256) * Block.expansion;
    this.stage5Channels = c(512) * Block.expansion;
  }

  forward(x: Tensor): BackboneFeatures {
    const s = x.shape;
    if (x.rank !== 4 || s[1] !== 3)
      throw new Error(`DilatedResNet: expected an input [B, 3, H, W], got ${JSON.stringify(s)}`);
    if (s[2] < OUTPUT_STRIDE || s[3] < OUTPUT_STRIDE)
      throw new Error(
        `DilatedResNet: input ${JSON.stringify(s)} is smaller than the output stride ${OUTPUT_STRIDE} (H and W must be >= ${OUTPUT_STRIDE})`,
      );
    const stage3 = this.layer2.call(this.layer1.call(this.maxpool.call(this.prefix.call(x))));
    const stage4 = this.layer3.call(stage3);
    return { stage4, stage5: this.layer4.call(stage4) };
  }
}
