// Named training presets: `ann-seg train --preset <name>`. 'small' (the default) trains on the
// embedded dataset on a 2-core CPU in minutes; 'official' is the paper's Cityscapes recipe.
import type { TrainConfig } from './run-folder.js';
import { resolveTrainConfig } from './config.js';

/**
 * The small network every CPU preset shares: ResNet-18 at a quarter width, narrow heads (the sizes
 * bench/data/separation.ts trains on the embedded dataset).
 */
const SMALL_MODEL = {
  depth: 18,
  width: 0.25,
  contextChannels: 64,
  keyChannels: 16,
  valueChannels: 32,
  auxChannels: 32,
  sizes: [1, 3, 6, 8],
} as const;

const SYNTHETIC = { seed: 0, trainSize: 2000, valSize: 200, size: 96 };

export const PRESETS = {
  // OHEM as the paper (thresh 0.7, minKept 100000): a batch of 8 x 64^2 = 32768 pixels has fewer than
  // minKept, so every pixel counts, as in the official code for small batches.
  small: {
    model: { ...SMALL_MODEL, sizes: [...SMALL_MODEL.sizes] },
    data: 'synthetic',
    synthetic: SYNTHETIC,
    iters: 1500,
    batch: 8,
    crop: 64,
    // lib/data/synthetic.ts's measurements: lr 0.05 learns the local classes within a few hundred iterations.
    lr: 0.05,
    evalEvery: 500,
    checkpointEvery: 500,
  },
  // The small network on the embedded dataset's strips (lib/data/synthetic-strip.ts): 64 x 512, the token
  // cue 320 px from the tokens, beyond the network's receptive field, so only the attention variants can
  // read it. Whole strips (no random scale: a smaller one would bring the cue within reach, a larger crop
  // would cut it off); flips and brightness as the paper. `ann-seg ablate --table 6` trains on it.
  context: {
    model: { ...SMALL_MODEL, sizes: [...SMALL_MODEL.sizes] },
    data: 'synthetic',
    synthetic: { seed: 0, trainSize: 2000, valSize: 100, size: 64, width: 512, layout: 'strips' },
    iters: 1000,
    batch: 8,
    crop: [64, 512],
    augment: { scale: [1, 1] },
    lr: 0.05,
    evalEvery: 250,
    checkpointEvery: 250,
  },
  /** For smoke tests and CI: seconds, not minutes. */
  tiny: {
    model: { depth: 18, width: 0.125, contextChannels: 16, keyChannels: 8, valueChannels: 8, auxChannels: 16, sizes: [1, 2] },
    data: 'synthetic',
    synthetic: { seed: 0, trainSize: 16, valSize: 4, size: 48 },
    iters: 4,
    batch: 2,
    crop: 32,
    lr: 0.01,
    ohemMinKept: 256,
    evalEvery: 0,
    checkpointEvery: 2,
  },
  /** The paper's Cityscapes recipe (ANN-SEMANTICS.md): ResNet-101, crop 769, batch 8, 60k iterations. */
  official: {
    model: { depth: 101, numClasses: 19 },
    data: 'cityscapes',
    iters: 60000,
    batch: 8,
    crop: 769,
    lr: 0.01,
    ohemMinKept: 100000,
    evalEvery: 5000,
    checkpointEvery: 2000,
    evalMode: 'slide',
    evalCrop: 769,
  },
} satisfies Record<string, Partial<TrainConfig>>;

export type PresetName = keyof typeof PRESETS;
export const DEFAULT_PRESET: PresetName = 'small';
/** What `ann-seg ablate --table 6` trains on by default. */
export const TABLE6_PRESET: PresetName = 'context';

/** A preset's full config (a fresh copy); throws naming the known presets for an unknown name. */
export function preset(name: string): TrainConfig {
  if (!Object.hasOwn(PRESETS, name)) throw new Error(`unknown preset '${name}' (expected one of ${Object.keys(PRESETS).join(', ')})`);
  return resolveTrainConfig({ preset: name, ...structuredClone(PRESETS[name as PresetName]) });
}
