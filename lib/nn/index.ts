// nn: Module, Parameter and layers, as torch.nn.
export { Module, Parameter } from './module.js';
export type { AnyModule, StateDict, LoadStateDictOptions, LoadStateDictResult } from './module.js';
export { Conv2d, BatchNorm2d, ReLU, Dropout2d, MaxPool2d, Identity } from './layers.js';
export type { Conv2dOptions, BatchNorm2dOptions, MaxPool2dOptions, Pair } from './layers.js';
export { Sequential, ModuleList } from './containers.js';
export * as init from './init.js';
export { DilatedResNet, BasicBlock, Bottleneck, DeepBaseStem, scaleChannels, OUTPUT_STRIDE, type DilatedResNetOptions, type ResNetDepth, type BackboneFeatures } from './resnet.js';
export * from './blocks.js';
