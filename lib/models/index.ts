// models: the ANN network, its Table 6 variants, its loss and its checkpoints.
export { ANN, ANNModel, OUTPUT_STRIDE, parameterCounts } from './ann.js';
export type { ANNOutput } from './ann.js';
export { DEFAULT_CONFIG, DEPTHS, LAYOUTS, SAMPLINGS, VARIANTS, VARIANT_PARTS, configDifferences, resolveConfig } from './config.js';
export type { ANNConfig, ANNDepth, ANNLayout, ANNSampling, ANNVariant, ResolvedANNConfig } from './config.js';
export { annLoss } from './loss.js';
export type { ANNLossOptions } from './loss.js';
export { loadANNCheckpoint, loadCheckpoint, readCheckpointConfig, saveCheckpoint } from './checkpoint.js';
export { stripModulePrefix } from './prefix.js';
export type { LoadCheckpointOptions } from './checkpoint.js';
