// A tiny training run for the trainer tests: a small ANN and a batch source whose batch k is a pure
// function of k (as lib/data's loader), so a resumed run sees the batches an uninterrupted one does.
import { randn, tensor, tidy, train as T } from '../../lib/index.js';

export function tinyConfig(iters: number, extra: Partial<T.TrainConfig> = {}): T.TrainConfig {
  return T.resolveTrainConfig({
    model: {
      depth: 18,
      width: 0.125,
      numClasses: 3,
      contextChannels: 16,
      keyChannels: 8,
      valueChannels: 8,
      auxChannels: 16,
      sizes: [1, 2],
      // Random anchors and dropout both draw from the default generator: resume must restore it.
      sampling: 'pyramid-random',
      dropout: 0.1,
    },
    data: 'synthetic',
    iters,
    batch: 2,
    crop: 32,
    lr: 0.01,
    ohemMinKept: 200,
    seed: 3,
    ...extra,
  });
}

/** Batch k: noise images; the label is which third of the image's mean brightness range a pixel falls in. */
export function tinyBatch(k: number): T.TrainBatch {
  return tidy(() => {
    const image = randn([2, 3, 32, 32], { seed: 1000 + k });
    const v = image.native.toArray() as Float32Array;
    const label = new Int32Array(2 * 32 * 32);
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 32 * 32; i++) {
        const s = v[b * 3 * 1024 + i] + v[b * 3 * 1024 + 1024 + i];
        label[b * 1024 + i] = s < -0.5 ? 0 : s < 0.5 ? 1 : 2;
      }
    return { image, label: tensor(label, [2, 32, 32]) };
  });
}

export function tinyLoader(start: number): T.BatchSource {
  let k = start;
  return { next: async () => tinyBatch(k++) };
}

export function trainLosses(out: string): number[] {
  return T.readRunLog(out)
    .filter((l): l is T.TrainLogLine => l.type === 'train')
    .map((l) => l.loss);
}
