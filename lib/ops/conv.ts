// F.conv2d over the native convolution (groups = 1).
import { needsGrad, record } from '../autograd/tape.js';
import { native } from '../native/index.js';
import type { NativeTensor, Pair } from '../native/types.js';
import { Tensor } from '../tensor.js';
import { checkOptionNames } from './options.js';

export interface Conv2dOptions {
  /** >= 1; default 1. */
  stride?: Pair;
  /** Zero padding on each side; default 0. */
  padding?: Pair;
  /** >= 1; default 1. */
  dilation?: Pair;
}

const CONV_OPTIONS = ['stride', 'padding', 'dilation'];

/**
 * torch.nn.functional.conv2d: x [B,Cin,H,W], weight [Cout,Cin,kh,kw], bias [Cout] or null ->
 * [B,Cout,Ho,Wo]. Only groups = 1 (the native kernel's); a `groups` option is refused, not ignored.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  checkOptionNames('conv2d', options, CONV_OPTIONS);
  const geometry: Conv2dOptions = {
    stride: options.stride ?? 1,
    padding: options.padding ?? 0,
    dilation: options.dilation ?? 1,
  };
  const b = bias ?? null;
  const y = new Tensor(native.conv2d(x.native, weight.native, b?.native ?? null, geometry));
  if (needsGrad(x, weight, b)) {
    const inputs = b ? [x, weight, b] : [x, weight];
    record(
      'conv2d',
      inputs,
      y,
      (g) => {
        const grads = native.conv2dBackward(g.native, x.native, weight.native, {
          ...geometry,
          needInput: x.requiresGrad,
          needWeight: weight.requiresGrad,
          needBias: b?.requiresGrad ?? false,
        });
        const wrap = (t?: typeof grads.dx) => (t ? new Tensor(t) : null);
        return [wrap(grads.dx), wrap(grads.dweight), wrap(grads.dbias)].slice(0, inputs.length);
      },
      [x, weight],
    );
  }
  return y;
}

/**
 * conv2d(cat([a, b], 1), cat([weightA, weightB], 1), bias) for 1x1 kernels, without the
 * concatenation: two GEMMs into one output, and the backward splits the same way. a [B,Ca,H,W],
 * weightA [Cout,Ca,1,1], b [B,Cb,H,W], weightB [Cout,Cb,1,1], bias [Cout] or null.
 */
export function conv1x1Pair(a: Tensor, weightA: Tensor, b: Tensor, weightB: Tensor, bias?: Tensor | null): Tensor {
  const c = bias ?? null;
  const y = new Tensor(native.conv1x1Pair(a.native, weightA.native, b.native, weightB.native, c?.native ?? null));
  if (needsGrad(a, weightA, b, weightB, c)) {
    const inputs = c ? [a, weightA, b, weightB, c] : [a, weightA, b, weightB];
    record(
      'conv1x1Pair',
      inputs,
      y,
      (g) => {
        const wrap = (t?: NativeTensor) => (t ? new Tensor(t) : null);
        const ga = native.conv2dBackward(g.native, a.native, weightA.native, {
          needInput: a.requiresGrad,
          needWeight: weightA.requiresGrad,
          needBias: c?.requiresGrad ?? false,
        });
        const gb = native.conv2dBackward(g.native, b.native, weightB.native, {
          needInput: b.requiresGrad,
          needWeight: weightB.requiresGrad,
          needBias: false,
        });
        return [wrap(ga.dx), wrap(ga.dweight), wrap(gb.dx), wrap(gb.dweight), wrap(ga.dbias)].slice(0, inputs.length);
      },
      [a, weightA, b, weightB],
    );
  }
  return y;
}
