// Native optim kernels (native/cpu/optim.cpp, bound in native/napi/optim_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface OptimKernels {}

export type { NativeTensor };
