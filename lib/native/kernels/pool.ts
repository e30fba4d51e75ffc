// Native pool kernels (native/cpu/pool.cpp, bound in native/napi/pool_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PoolKernels {}

export type { NativeTensor };
