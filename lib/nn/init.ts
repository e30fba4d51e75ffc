// PyTorch's torch.nn.init, in place and seeded: the same formulas and bounds; the random stream is
// ours (lib/random.ts), not PyTorch's. Each takes an optional generator (else the default one,
// reseeded by manualSeed).
import { native } from '../native/index.js';
import { defaultGenerator, type Generator } from '../random.js';
import { nativeFromArray, type Tensor } from '../tensor.js';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu';

export interface InitOptions {
  generator?: Generator;
}

function fill(t: Tensor, draw: () => number): Tensor {
  if (t.dtype !== 'float32') throw new Error(`init: tensor ${JSON.stringify(t.shape)} is ${t.dtype}, not float32`);
  const data = new Float32Array(t.size);
  for (let i = 0; i < data.length; i++) data[i] = draw();
  const src = nativeFromArray(data, t.shape, t.device);
  try {
    native.copyInto(t.native, src);
  } finally {
    src.dispose();
  }
  return t;
}

/** fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (torch's _calculate_fan_in_and_fan_out). */
export function fans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2)
    throw new Error(`init: fan in and fan out need a tensor of at least 2 dimensions, got ${JSON.stringify(shape)}`);
  const field = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * field, fanOut: shape[0] * field };
}

/** torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    default:
      throw new Error(`calculateGain: unsupported nonlinearity '${nonlinearity as string}'`);
  }
}

/** Uniform in [low, high). */
export function uniform_(t: Tensor, low = 0, high = 1, { generator = defaultGenerator }: InitOptions = {}): Tensor {
  return fill(t, () => low + (high - low) * generator.uniform());
}

export function normal_(t: Tensor, mean = 0, std = 1, { generator = defaultGenerator }: InitOptions = {}): Tensor {
  return fill(t, () => mean + std * generator.normal());
}

export function constant_(t: Tensor, value: number): Tensor {
  return fill(t, () => value);
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

export interface KaimingOptions extends InitOptions {
  /** The negative slope of the rectifier after this layer (leaky_relu only); default 0. */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' }: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t.shape);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/** torch.nn.init.kaiming_uniform_: U(-b, b) with b = gain * sqrt(3 / fan). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform_(t, -bound, bound, opts);
}

/** torch.nn.init.kaiming_normal_: N(0, gain / sqrt(fan)). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, opts), opts);
}
