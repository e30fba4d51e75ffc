// Native interp kernels (native/cpu/interp.cpp, bound in native/napi/interp_bindings.cpp).
import type { NativeTensor } from '../types.js';

export interface InterpolateBilinearOptions {
  /** Output [Ho, Wo] (a single number means square); each 1 .. 2^20. */
  size: [number, number] | number;
  /** PyTorch's align_corners; default false (PyTorch's default). */
  alignCorners?: boolean;
  /**
   * F.interpolate's scale_factor [sh, sw] (a number: both), finite and > 0. With alignCorners
   * false an axis then samples at src = (dst + 0.5) / scale - 0.5 instead of in/out, as PyTorch
   * without recompute_scale_factor; an axis whose size is kept is copied; ignored with alignCorners.
   */
  scale?: [number, number] | number;
}

export interface InterpolateBilinearBackwardOptions {
  /** The forward input's shape [B, C, H, W]; B and C must match dy's. */
  inputShape: number[];
  alignCorners?: boolean;
  /** The forward's scale, if it had one. */
  scale?: [number, number] | number;
}

export interface InterpKernels {
  /**
   * Bilinear resize of x float32 [B, C, H, W] to [B, C, Ho, Wo], exactly
   * F.interpolate(x, size=[Ho, Wo], mode='bilinear', align_corners=alignCorners).
   */
  interpolateBilinear(x: NativeTensor, options: InterpolateBilinearOptions): NativeTensor;
  /**
   * Gradient of interpolateBilinear with respect to its input: dy [B, C, Ho, Wo] -> dx of
   * `inputShape`. Deterministic (each plane accumulated serially, no atomics).
   */
  interpolateBilinearBackward(dy: NativeTensor, options: InterpolateBilinearBackwardOptions): NativeTensor;
}

export type { NativeTensor };
