// Native elementwise kernels (native/cpu/elementwise.cpp, bound in native/napi/elementwise_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ElementwiseKernels {}

export type { NativeTensor };
