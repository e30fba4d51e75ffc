// Native loss kernels (native/cpu/loss.cpp, bound in native/napi/loss_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface LossKernels {}

export type { NativeTensor };
