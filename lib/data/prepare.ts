// Batch k of a loader from its examples: each augmented (seeded by (seed, k, slot)), centre-cropped
// or taken as is, then normalised into one buffer. A pure function of its arguments, shared by the
// loader's own thread and its worker (prepare-worker.ts), so both give the same bytes.
import { centerParams, drawAugment, resample, type AugmentOptions } from './augment.js';
import { normalizeInto } from './pixels.js';
import { generatorAt, STREAM } from './seed.js';
import type { RawSample } from './types.js';

export interface PrepareOptions {
  crop: [number, number] | null;
  augment: Required<AugmentOptions> | null;
  seed: number;
}

export interface Prepared {
  image: Float32Array;
  label: Int32Array;
  shape: [number, number];
  names: string[];
  indices: number[];
}

function transform(sample: RawSample, k: number, j: number, o: PrepareOptions): RawSample {
  if (!o.crop) return sample;
  const params = o.augment
    ? drawAugment(generatorAt(o.seed, STREAM.augment, k, j), sample.height, sample.width, o.crop, o.augment)
    : centerParams(sample.height, sample.width, o.crop);
  return resample(sample, o.crop, params);
}

export function prepareBatch(raw: readonly RawSample[], indices: number[], k: number, o: PrepareOptions): Prepared {
  const samples = raw.map((s, j) => transform(s, k, j, o));
  const [h, w] = [samples[0].height, samples[0].width];
  const image = new Float32Array(samples.length * 3 * h * w);
  const label = new Int32Array(samples.length * h * w);
  samples.forEach((s, b) => {
    if (s.height !== h || s.width !== w)
      throw new Error(`DataLoader: ${s.name} is ${s.height}x${s.width} but ${samples[0].name} is ${h}x${w}; give a crop size to batch examples of different sizes`);
    normalizeInto(s.image, h, w, image, b * 3 * h * w);
    label.set(s.label, b * h * w);
  });
  return { image, label, shape: [h, w], names: samples.map((s) => s.name), indices };
}
