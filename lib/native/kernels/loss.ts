// Native loss kernels (native/cpu/loss_softmax.cpp and loss_ce.cpp, bound in
// native/napi/loss_bindings.cpp).
import type { NativeTensor } from '../types.js';

export interface AxisOptions {
  /** The axis reduced over; negative counts from the end. Default -1 (the last axis). */
  axis?: number;
}

export interface CrossEntropyOptions {
  /** Class weights float32 [K]; default all ones. */
  weight?: NativeTensor;
  /** Target value whose pixels are left out of the loss; default -100 (PyTorch's). */
  ignoreIndex?: number;
  /** Default 'mean'. */
  reduction?: 'mean' | 'sum' | 'none';
}

export interface OhemCrossEntropyOptions {
  /** Probability bound: pixels whose target probability is below it are kept. Default 0.7. */
  thresh?: number;
  /** At least this many of the hardest valid pixels raise the bound (see ohemCrossEntropy). Default 100000. */
  minKept?: number;
  /** Class weights float32 [K]; default all ones. */
  weight?: NativeTensor;
  /** Default 255 (Cityscapes' ignore label). */
  ignoreIndex?: number;
}

export interface OhemCrossEntropyResult {
  /** float32 [] */
  loss: NativeTensor;
  /** int32 []: how many pixels entered the mean. */
  kept: NativeTensor;
  /**
   * The probability bound used (kept: p < threshold): thresh when no pixel is valid, NaN when NaN
   * logits reach the k-th place.
   */
  threshold: number;
}

export interface OhemCrossEntropyBackwardOptions extends OhemCrossEntropyOptions {
  /**
   * The forward's `threshold` and `kept` (number or its int32 [] tensor), together: the backward
   * then skips recomputing the selection (one pass over the logits and the nth_element). The
   * probabilities it compares are bit-identical to the forward's, so the kept set is the same.
   */
  threshold?: number;
  kept?: number | NativeTensor;
}

export interface LossKernels {
  /** Softmax over `axis`, numerically stable (max subtracted); NaN anywhere along the axis gives NaN along it. */
  softmax(x: NativeTensor, options?: AxisOptions): NativeTensor;
  /** log(softmax(x)) over `axis`, computed as (x - max) - log(sum(exp(x - max))). */
  logSoftmax(x: NativeTensor, options?: AxisOptions): NativeTensor;
  /** dx = y * (dy - sum(dy * y)) over `axis`, from the forward output y. */
  softmaxBackward(dy: NativeTensor, y: NativeTensor, options?: AxisOptions): NativeTensor;
  /** dx = dy - exp(y) * sum(dy) over `axis`, from the forward output y = logSoftmax(x). */
  logSoftmaxBackward(dy: NativeTensor, y: NativeTensor, options?: AxisOptions): NativeTensor;
  /**
   * int32 index of the maximum over `axis` (that axis removed), as torch.argmax(x, axis): the first
   * index on ties, and NaN counts as the maximum (the first NaN wins).
   */
  argmax(x: NativeTensor, options?: AxisOptions): NativeTensor;
  /**
   * F.cross_entropy(logits, target, weight, ignore_index, reduction) for logits float32 [N, K] or
   * [B, K, H, W] (any [N, K, ...]) and target int32 [N] or [B, H, W]. 'none' gives the target's shape
   * (0 at ignored pixels); 'sum' and 'mean' give shape []. 'mean' = sum w[y] * nll / sum w[y] over
   * non-ignored pixels, so NaN when every pixel is ignored, as PyTorch. A target outside [0, K) that is
   * not ignoreIndex throws, naming the value and its position.
   */
  crossEntropy(logits: NativeTensor, target: NativeTensor, options?: CrossEntropyOptions): { loss: NativeTensor };
  /**
   * d loss / d logits, given dloss (shape [] or [1] for 'mean'/'sum', the target's shape for 'none')
   * and the forward's arguments and options. Ignored pixels get 0; when every pixel is ignored
   * under 'mean' the gradient is 0 (PyTorch's too).
   */
  crossEntropyBackward(
    dloss: NativeTensor,
    logits: NativeTensor,
    target: NativeTensor,
    options?: CrossEntropyOptions,
  ): NativeTensor;
  /**
   * The official ANN main loss (openseg's FSOhemCELoss): p = softmax probability of the target class
   * at each valid (not ignoreIndex) pixel; threshold = max(kth smallest p, thresh) with
   * k = min(minKept, nValid - 1) (selected with nth_element, no full sort); keep pixels with
   * p < threshold (strict); loss = plain mean over kept pixels of w[y] * -log p (not divided by the
   * weights). logits [B, K, H, W] (any [N, K, ...]), target int32 [B, H, W].
   * Degenerate cases, where the official code fails or yields NaN, are defined for training instead:
   * no valid pixel -> loss 0, kept 0, threshold = thresh, zero gradient (PyTorch raises on the empty
   * sort); nothing kept
   * (e.g. all valid p tie at the threshold, or minKept 0 with thresh <= min p) -> loss 0, kept 0, zero
   * gradient (PyTorch: NaN, the mean of nothing). NaN logits that reach the threshold make loss and
   * gradient NaN.
   */
  ohemCrossEntropy(logits: NativeTensor, target: NativeTensor, options?: OhemCrossEntropyOptions): OhemCrossEntropyResult;
  /**
   * d loss / d logits of ohemCrossEntropy for dloss (shape [] or [1]): dloss * w[y] / kept * (softmax - onehot)
   * at kept pixels, 0 elsewhere (all 0 when nothing is kept, all NaN when the threshold is NaN). Recomputes
   * the selection unless given the forward's `threshold` and `kept`.
   */
  ohemCrossEntropyBackward(
    dloss: NativeTensor,
    logits: NativeTensor,
    target: NativeTensor,
    options?: OhemCrossEntropyBackwardOptions,
  ): NativeTensor;
}

export type { NativeTensor };
