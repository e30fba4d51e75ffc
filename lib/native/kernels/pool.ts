// Native pool kernels (native/cpu/pool*.cpp, bound in native/napi/pool_bindings.cpp).
import type { Device, NativeTensor, Pair } from '../types.js';

export interface MaxPool2dOptions {
  kernelSize: Pair;
  /** Defaults to kernelSize. */
  stride?: Pair;
  /** At most half of kernelSize. Default 0. */
  padding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** PyTorch's ceil_mode: round the output size up, but the last window must start inside the input or the left padding. */
  ceilMode?: boolean;
}

export type PyramidMode = 'avg' | 'max';

export interface PyramidPoolOptions {
  /** Output sizes of the adaptive pooling levels, in order. Default [1, 3, 6, 8] (S = 110). */
  sizes?: number[];
  /** Default 'avg'. */
  mode?: PyramidMode;
}

export interface PyramidPoolBackwardOptions extends PyramidPoolOptions {
  /** [B, C, H, W] of the forward input. */
  inputShape: number[];
  /** The forward's indices; required for mode 'max', rejected for 'avg'. */
  indices?: NativeTensor;
}

export interface SamplePositionsOptions {
  height: number;
  width: number;
  /** Pyramid levels (default [1, 3, 6, 8]); S = sum of n^2. Give this or n. */
  sizes?: number[];
  /** Shorthand for sizes = [n]: S = n^2. */
  n?: number;
  /** 'pyramid' (default): one pixel uniformly inside each adaptive-pooling bin of each level, in
   *  pyramidPool's anchor order. 'plain': S distinct pixels uniformly over the map, in draw order. */
  mode?: 'pyramid' | 'plain';
  /** Non-negative integer; the same seed gives the same positions on every machine. Default 0. */
  seed?: number;
  /** Independent rows to draw (row b uses stream b of the seed). Default 1. */
  batch?: number;
  /** Where the positions are made. Default 'cpu'. */
  device?: Device;
}

export interface PoolKernels {
  /**
   * PyTorch's max_pool2d on x [B,C,H,W] -> y [B,C,OH,OW] and indices int32 [B,C,OH,OW] (flat h*W+w
   * within each plane). Ties keep the first element of the window in row-major order; NaN propagates
   * (the last NaN in the window is picked), as PyTorch's CPU kernel.
   */
  maxPool2d(x: NativeTensor, options: MaxPool2dOptions): { y: NativeTensor; indices: NativeTensor };
  /** dx [B,C,H,W] = dy summed at the forward's indices; deterministic. */
  maxPool2dBackward(dy: NativeTensor, indices: NativeTensor, inputShape: number[]): NativeTensor;

  /**
   * Fused pyramid pooling: every level's adaptive pooling (bins start = floor(i*H/n),
   * end = ceil((i+1)*H/n), as PyTorch, for any H and W) in one pass over x [B,C,H,W], written as
   * y [B,C,S], levels concatenated in order, each flattened row-major. Mode 'max' also returns
   * indices int32 [B,C,S] (flat h*W+w, PyTorch's tie and NaN rules).
   */
  pyramidPool(x: NativeTensor, options?: PyramidPoolOptions): { y: NativeTensor; indices?: NativeTensor };
  /** dx [B,C,H,W] from dy [B,C,S]: each pixel gathers from its containing bins; deterministic. */
  pyramidPoolBackward(dy: NativeTensor, options: PyramidPoolBackwardOptions): NativeTensor;

  /** Seeded random anchor positions for the Table 7 ablation: int32 [batch, S] of flat h*W+w. */
  samplePositions(options: SamplePositionsOptions): NativeTensor;
  /** y [B,C,S] = x [B,C,H,W] read at positions int32 [B,S] (PyTorch's x.flatten(2).gather(2, ...)). */
  gatherPositions(x: NativeTensor, positions: NativeTensor): NativeTensor;
  /** dx [B,C,H,W] from dy [B,C,S]; repeated positions accumulate, deterministically. */
  gatherPositionsBackward(dy: NativeTensor, positions: NativeTensor, inputShape: number[]): NativeTensor;
}

export type { NativeTensor };
