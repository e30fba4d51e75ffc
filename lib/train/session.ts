// A training run wired end to end: the datasets a TrainConfig names, data's DataLoader feeding the
// Trainer, infer's evaluate() on the validation split. What `ann-seg train` and `ann-seg ablate` run.
import { existsSync, statSync } from 'node:fs';
import { DataLoader } from '../data/loader.js';
import { openDataset } from '../data/folders.js';
import { synthetic } from '../data/synthetic.js';
import type { SegDataset } from '../data/types.js';
import { evaluate } from './evaluate.js';
import type { TrainConfig } from './run-folder.js';
import { Trainer, type TrainerOptions } from './trainer.js';

export interface RunDatasets {
  train: SegDataset;
  val: SegDataset;
}

/** The train and val splits of config.data: 'synthetic' or a folder (Cityscapes or plain layout). */
export async function openDatasets(config: TrainConfig): Promise<RunDatasets> {
  if (config.data === 'synthetic') {
    const s = config.synthetic ?? { seed: 0, trainSize: 2000, valSize: 200, size: 96 };
    const common = { seed: s.seed, layout: s.layout, height: s.size, width: s.width ?? (s.layout === 'strips' ? undefined : s.size) };
    return {
      train: synthetic({ ...common, split: 'train', length: s.trainSize }),
      val: synthetic({ ...common, split: 'val', length: s.valSize }),
    };
  }
  if (!existsSync(config.data) || !statSync(config.data).isDirectory())
    throw new Error(`data folder '${config.data}' does not exist (expected 'synthetic' or a dataset folder)`);
  // Cityscapes: leftImg8bit/train and /val. Plain: images/train and images/val when present, else
  // every image for both (say so in the run's name).
  return { train: openDataset(config.data, { split: 'train' }), val: openDataset(config.data, { split: 'val' }) };
}

/** The model's class count follows the data unless the config fixes it; a mismatch is an error. */
export function withDataClasses(config: TrainConfig, data: RunDatasets): TrainConfig {
  const k = data.train.classes.length;
  if (data.val.classes.length !== k)
    throw new Error(`the train split has ${k} classes but the val split ${data.val.classes.length}`);
  return { ...config, model: { ...config.model, numClasses: k } };
}

/** A Trainer over the config's datasets (the caller runs and disposes it). */
export function makeTrainer(
  config: TrainConfig,
  data: RunDatasets,
  options: Omit<TrainerOptions, 'config' | 'makeLoader' | 'evaluate'> & { evalProgress?: (done: number, total: number) => void },
): Trainer {
  const { evalProgress, ...rest } = options;
  return new Trainer({
    ...rest,
    config,
    makeLoader: (startBatch) =>
      new DataLoader(data.train, { batchSize: config.batch, crop: config.crop, augment: config.augment, shuffle: true, seed: config.seed, startBatch }),
    evaluate: (model) =>
      evaluate(model, data.val, {
        mode: config.evalMode,
        ...(config.evalCrop === undefined ? {} : { crop: config.evalCrop }),
        ...(evalProgress ? { onProgress: evalProgress } : {}),
      }),
  });
}
