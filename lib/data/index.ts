// data: datasets (the embedded synthetic scenes, Cityscapes and plain folders), the paper's
// augmentation, the official normalisation and a prefetching, resumable loader.
export type { RawSample, SegDataset } from './types.js';
export { DEFAULT_CLUMP, DEFAULT_TINT, MAJORITY_MAX, MAJORITY_MIN, SYNTHETIC_CLASSES, SYNTHETIC_PALETTE, SyntheticDataset, TOKEN_CLEARANCE, synthetic, syntheticScene } from './synthetic.js';
export type { CueOptions, SyntheticLayout, SyntheticOptions } from './synthetic.js';
export { STRIP_CAST, syntheticStrip } from './synthetic-strip.js';
export { IGNORE_INDEX, MEAN_BGR, MEAN_RGB_U8, denormalize, normalizeInto, toInputTensor, toLabelTensor } from './normalize.js';
export { DEFAULT_AUGMENT, augment, centerParams, drawAugment, resample, resolveAugment, scaledSize } from './augment.js';
export type { AugmentOptions, AugmentParams } from './augment.js';
export { DataLoader } from './loader.js';
export type { Batch, LoaderOptions } from './loader.js';
export { generatorAt, hashSeed } from './seed.js';
export { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, FolderDataset, detectLayout, openDataset, readClassList, readImage, readMask } from './folders.js';
export type { FilePair, OpenDatasetOptions } from './folders.js';
