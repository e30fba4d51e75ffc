// Native conv kernels (native/cpu/conv.cpp, bound in native/napi/conv_bindings.cpp).
import type { NativeTensor, Pair } from '../types.js';

export interface Conv2dOptions {
  /** >= 1; default 1. */
  stride?: Pair;
  /** Zero padding on each side, >= 0; default 0. */
  padding?: Pair;
  /** >= 1; default 1. */
  dilation?: Pair;
}

export interface Conv2dBackwardOptions extends Conv2dOptions {
  /** Compute dx (default true). */
  needInput?: boolean;
  /** Compute dweight (default true). */
  needWeight?: boolean;
  /** Compute dbias (default true). */
  needBias?: boolean;
}

export interface Conv2dGrads {
  dx?: NativeTensor;
  dweight?: NativeTensor;
  dbias?: NativeTensor;
}

export interface ConvKernels {
  /**
   * 2-D convolution (cross-correlation, groups = 1) as torch.nn.functional.conv2d:
   * x [B,Cin,H,W], weight [Cout,Cin,kh,kw], bias [Cout] or null -> y [B,Cout,Ho,Wo] with
   * Ho = floor((H + 2*padH - dilH*(kh-1) - 1) / strideH) + 1 (likewise Wo).
   * Throws on a channel mismatch, a bias of the wrong length, stride/dilation < 1, padding < 0,
   * or an output size <= 0.
   */
  conv2d(x: NativeTensor, weight: NativeTensor, bias: NativeTensor | null, options?: Conv2dOptions): NativeTensor;
  /**
   * Gradients of conv2d given dy [B,Cout,Ho,Wo] and the forward's x, weight and geometry options.
   * Returns only the gradients asked for: dx like x, dweight like weight, dbias [Cout].
   * Deterministic: the same inputs on the same thread count give bit-identical results.
   */
  conv2dBackward(dy: NativeTensor, x: NativeTensor, weight: NativeTensor, options?: Conv2dBackwardOptions): Conv2dGrads;
  /**
   * The 1x1 convolution over cat([a, b], 1) with weight cat([weightA, weightB], 1), without the
   * concatenation (native/cpu/conv_pair.cpp): a [B,Ca,H,W], weightA [Cout,Ca,1,1], b [B,Cb,H,W],
   * weightB [Cout,Cb,1,1], bias [Cout] or null -> [B,Cout,H,W]. Its gradients are conv2dBackward
   * of each input against the same dy.
   */
  conv1x1Pair(a: NativeTensor, weightA: NativeTensor, b: NativeTensor, weightB: NativeTensor, bias: NativeTensor | null): NativeTensor;
}

export type { NativeTensor };
