// optim: SGD and the poly learning-rate schedule.
export { SGD } from './sgd.js';
export type { SGDOptions, SGDState } from './sgd.js';
export { PolyLR } from './poly.js';
export type { PolyLRState, HasLr } from './poly.js';
