// F: the differentiable functional ops, named as torch.nn.functional's in camelCase.
export * from './arith.js';
export * from './shape.js';
export * from './linalg.js';
export * from './conv.js';
export * from './norm.js';
export * from './pool.js';
export * from './attention.js';
export * from './interp.js';
export * from './dropout.js';
export * from './loss.js';
