// Native norm kernels (native/cpu/norm.cpp, bound in native/napi/norm_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NormKernels {}

export type { NativeTensor };
