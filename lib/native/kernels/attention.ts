// Native attention kernels (native/cpu/attention.cpp, bound in native/napi/attention_bindings.cpp).
import type { NativeTensor } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AttentionKernels {}

export type { NativeTensor };
