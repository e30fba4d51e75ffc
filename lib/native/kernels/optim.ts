// Native optim kernels (native/cpu/optim.cpp, bound in native/napi/optim_bindings.cpp).
import type { NativeTensor } from '../types.js';

export interface SgdOptions {
  /** Learning rate, finite and >= 0 (required). */
  lr: number;
  /** Momentum factor >= 0 (default 0). With momentum a momentumBuffer is required. */
  momentum?: number;
  /** Dampening for momentum (default 0). */
  dampening?: number;
  /** L2 penalty >= 0 added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0. */
  nesterov?: boolean;
  /**
   * Required with momentum: true on the parameter's first step, where the buffer is set to the
   * gradient (its old contents are ignored, so native.empty() will do), false afterwards.
   */
  firstStep?: boolean;
}

export interface OptimKernels {
  /**
   * One torch.optim.SGD step, IN PLACE on param (and momentumBuffer), all the same shape:
   *   d = grad + weightDecay * param
   *   buf = firstStep ? d : momentum * buf + (1 - dampening) * d      (momentum != 0)
   *   d = nesterov ? d + momentum * buf : buf                          (momentum != 0)
   *   param -= lr * d
   * momentumBuffer may be null when momentum is 0 (it is then ignored).
   */
  sgdStep(param: NativeTensor, grad: NativeTensor, momentumBuffer: NativeTensor | null, options: SgdOptions): void;
}

export type { NativeTensor };
