// Native conv kernels (native/cpu/conv.cpp, bound in native/napi/conv_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConvKernels {}

export type { NativeTensor };
