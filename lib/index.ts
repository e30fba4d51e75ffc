// The public entry point. The autograd Tensor, F, nn and optim arrive with the autograd issue;
// this layer exposes the native kernels and the safetensors reader/writer they are tested with.
export { native } from './native/index.js';
export type * from './native/index.js';
export { readSafetensorsRaw, writeSafetensorsRaw } from './io/safetensors.js';
export type { RawTensor, RawSafetensors, SafetensorsDType } from './io/safetensors.js';
