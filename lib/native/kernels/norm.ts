// Native norm kernels (native/cpu/norm.cpp, bound in native/napi/norm_bindings.cpp).
import type { NativeTensor } from '../types.js';

export interface BatchNormOptions {
  /** Required: true normalises with the batch statistics, false with the running ones. */
  training: boolean;
  /** Running-statistics update factor in [0, 1]; default 0.1 (PyTorch's). */
  momentum?: number;
  /** Added to the variance; default 1e-5. */
  eps?: number;
}

export interface BatchNormResult {
  y: NativeTensor;
  /** [C]: the batch mean in training, runningMean in evaluation. */
  saveMean: NativeTensor;
  /** [C]: 1/sqrt(var + eps) of the batch (biased variance) in training, of runningVar in evaluation. */
  saveInvstd: NativeTensor;
}

export interface BatchNormBackwardOptions {
  /** Required: must match the forward call. */
  training: boolean;
  /** Compute dx (default true). */
  needInput?: boolean;
  /** Compute dweight (default true; computed as for a weight of ones when weight is null). */
  needWeight?: boolean;
  /** Compute dbias (default true). */
  needBias?: boolean;
}

export interface BatchNormGrads {
  dx?: NativeTensor;
  dweight?: NativeTensor;
  dbias?: NativeTensor;
}

export interface NormKernels {
  /**
   * Batch norm as torch.nn.functional.batch_norm over x [B,C], [B,C,L] or [B,C,H,W], per channel C.
   * weight/bias [C] or null (no affine). runningMean/runningVar [C] (both or neither; required in
   * evaluation). In training they are updated IN PLACE: r = (1-momentum)*r + momentum*stat, with the
   * unbiased variance n/(n-1) for runningVar. Training with one value per channel throws.
   */
  batchNorm(
    x: NativeTensor,
    weight: NativeTensor | null,
    bias: NativeTensor | null,
    runningMean: NativeTensor | null,
    runningVar: NativeTensor | null,
    options: BatchNormOptions,
  ): BatchNormResult;
  /**
   * Gradients of batchNorm from dy (shaped like x), with the forward's saveMean/saveInvstd. In
   * training mean and invstd depend on x; in evaluation they are constants (dx = dy*weight*invstd).
   * Returns only the gradients asked for: dx like x, dweight [C], dbias [C].
   */
  batchNormBackward(
    dy: NativeTensor,
    x: NativeTensor,
    weight: NativeTensor | null,
    saveMean: NativeTensor,
    saveInvstd: NativeTensor,
    options: BatchNormBackwardOptions,
  ): BatchNormGrads;
}

export type { NativeTensor };
