// The public entry point: import { tensor, zeros, randn, tidy, keep, memory, noGrad, F, nn, optim, io, models, data } from 'ann-seg'.
export { Tensor, tensor, full, zeros, ones, empty, randn, rand, memory } from './tensor.js';
export { defaultDevice } from './device.js';
export type { Device } from './device.js';
export type { TensorOptions, RandomOptions } from './tensor.js';
export { tidy, keep } from './autograd/scope.js';
export { noGrad, isGradEnabled } from './autograd/tape.js';
export { manualSeed, Generator } from './random.js';
export * as F from './ops/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as io from './io/index.js';
export * as models from './models/index.js';
export * as data from './data/index.js';
export * as train from './train/index.js';
export * as cuda from './cuda.js';
/** The native kernels, for code below the autograd layer (benchmarks, tests, custom ops). */
export { native } from './native/index.js';
export type * from './native/index.js';
