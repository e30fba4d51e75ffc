// Native interp kernels (native/cpu/interp.cpp, bound in native/napi/interp_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface InterpKernels {}

export type { NativeTensor };
