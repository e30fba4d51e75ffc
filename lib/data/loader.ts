// Batches for training: an epoch-shuffled stream of examples, augmented and normalised, prepared
// ahead while the current step runs. Batch k (its examples, their order and their augmentation) is a
// pure function of (seed, k), so a run resumed at iteration k starts at batch k and sees the same
// bytes an uninterrupted run would.
import { tensor, type Tensor } from '../tensor.js';
import { centerParams, drawAugment, resample, resolveAugment, type AugmentOptions } from './augment.js';
import { normalizeInto } from './normalize.js';
import { generatorAt, STREAM } from './seed.js';
import type { RawSample, SegDataset } from './types.js';

export interface LoaderOptions {
  batchSize: number;
  /** Output size, [h, w] or one number for a square; without it every example keeps its size (they must agree). */
  crop?: number | readonly [number, number];
  /** true (default): the paper's augmentation; options to change it; false: a centred crop (or none). */
  augment?: boolean | AugmentOptions;
  /** Reshuffle every epoch (default true); false: dataset order. */
  shuffle?: boolean;
  /** Decides the order and the augmentation; default 0. */
  seed?: number;
  /** Batches prepared ahead of the one being used; default 2. */
  prefetch?: number;
  /** The first batch next() returns (to resume at iteration k); default 0. */
  startBatch?: number;
}

/** One batch. Its tensors belong to the caller: dispose() them (or the batch) after the step. */
export interface Batch {
  /** float32 [B, 3, H, W], normalised BGR (normalize.ts). */
  image: Tensor;
  /** int32 [B, H, W], 255 = ignore. */
  label: Tensor;
  /** The examples' names (RawSample.name), in batch order. */
  names: string[];
  /** The dataset index of each example. */
  indices: number[];
  /** k: this is the k-th batch of the stream (0-based). */
  index: number;
  /** How long next() waited for this batch, in milliseconds (the step's data time). */
  waitMs: number;
  dispose(): void;
}

interface Prepared {
  image: Float32Array;
  label: Int32Array;
  shape: [number, number];
  names: string[];
  indices: number[];
}

function checkInt(name: string, value: unknown, min: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) throw new Error(`DataLoader: ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value as number;
}

function resolveCrop(crop: LoaderOptions['crop']): [number, number] | null {
  if (crop === undefined) return null;
  const pair = typeof crop === 'number' ? [crop, crop] : crop;
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => Number.isSafeInteger(v) && v >= 1))
    throw new Error(`DataLoader: crop must be a positive integer or [height, width], got ${JSON.stringify(crop)}`);
  return [pair[0], pair[1]];
}

export class DataLoader {
  readonly dataset: SegDataset;
  readonly batchSize: number;
  readonly crop: [number, number] | null;
  readonly augment: Required<AugmentOptions> | null;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly prefetch: number;
  #cursor: number;
  #queue = new Map<number, Promise<Prepared>>();
  #orders = new Map<number, Int32Array>();
  #closed = false;
  #waits: number[] = [];

  constructor(dataset: SegDataset, options: LoaderOptions) {
    if (!dataset || typeof dataset.get !== 'function' || !Number.isSafeInteger(dataset.length))
      throw new Error('DataLoader: expected a dataset (SegDataset: length, classes, palette, get(index))');
    if (dataset.length < 1) throw new Error(`DataLoader: dataset ${dataset.name} is empty`);
    const known = ['batchSize', 'crop', 'augment', 'shuffle', 'seed', 'prefetch', 'startBatch'];
    for (const key of Object.keys(options ?? {})) if (!known.includes(key)) throw new Error(`DataLoader: unknown option '${key}' (expected ${known.join(', ')})`);
    const { batchSize, crop, augment = true, shuffle = true, seed = 0, prefetch = 2, startBatch = 0 } = options ?? ({} as LoaderOptions);
    this.dataset = dataset;
    this.batchSize = checkInt('batchSize', batchSize, 1);
    this.crop = resolveCrop(crop);
    if (typeof augment !== 'boolean' && (typeof augment !== 'object' || augment === null))
      throw new Error(`DataLoader: augment must be true, false or augmentation options, got ${JSON.stringify(augment)}`);
    this.augment = augment === false ? null : resolveAugment(augment === true ? {} : augment);
    if (this.augment && !this.crop) throw new Error('DataLoader: augmentation needs a crop size (crop: number | [h, w]); pass augment: false to batch whole examples');
    if (typeof shuffle !== 'boolean') throw new Error(`DataLoader: shuffle must be true or false, got ${JSON.stringify(shuffle)}`);
    this.shuffle = shuffle;
    this.seed = checkInt('seed', seed, 0);
    this.prefetch = checkInt('prefetch', prefetch, 0);
    this.#cursor = checkInt('startBatch', startBatch, 0);
  }

  /** Batches in one pass over the dataset (the last one runs into the next epoch). */
  get batchesPerEpoch(): number {
    return Math.ceil(this.dataset.length / this.batchSize);
  }

  /** The index of the batch the next call to next() returns. */
  get position(): number {
    return this.#cursor;
  }

  /** Data time (ms waited in next()) of every batch so far. */
  get waits(): readonly number[] {
    return this.#waits;
  }

  /** The dataset indices of batch k. */
  indicesOf(k: number): number[] {
    const n = this.dataset.length;
    const out: number[] = [];
    for (let j = 0; j < this.batchSize; j++) {
      const p = k * this.batchSize + j;
      const epoch = Math.floor(p / n);
      out.push(this.shuffle ? this.#order(epoch)[p % n] : p % n);
    }
    return out;
  }

  #order(epoch: number): Int32Array {
    let order = this.#orders.get(epoch);
    if (!order) {
      const g = generatorAt(this.seed, STREAM.order, epoch);
      order = Int32Array.from({ length: this.dataset.length }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(g.uniform() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      if (this.#orders.size >= 3) this.#orders.delete(this.#orders.keys().next().value!);
      this.#orders.set(epoch, order);
    }
    return order;
  }

  /** One example of batch k, slot j: augmented (seeded by (seed, k, j)), centre-cropped, or as is. */
  #transform(sample: RawSample, k: number, j: number): RawSample {
    if (!this.crop) return sample;
    const params = this.augment
      ? drawAugment(generatorAt(this.seed, STREAM.augment, k, j), sample.height, sample.width, this.crop, this.augment)
      : centerParams(sample.height, sample.width, this.crop);
    return resample(sample, this.crop, params);
  }

  async #prepare(k: number): Promise<Prepared> {
    const indices = this.indicesOf(k);
    const raw = await Promise.all(indices.map((i) => this.dataset.get(i)));
    const samples = raw.map((s, j) => this.#transform(s, k, j));
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

  #fill(): void {
    for (let k = this.#cursor; k <= this.#cursor + this.prefetch; k++) {
      if (this.#queue.has(k)) continue;
      const p = this.#prepare(k);
      p.catch(() => {}); // reported when its batch is asked for, not as an unhandled rejection
      this.#queue.set(k, p);
    }
  }

  /** The next batch; the ones after it are being prepared while the caller uses it. */
  async next(): Promise<Batch> {
    if (this.#closed) throw new Error(`DataLoader (${this.dataset.name}): next() after close()`);
    const start = performance.now();
    const k = this.#cursor;
    this.#fill();
    const pending = this.#queue.get(k)!;
    this.#queue.delete(k);
    this.#cursor++;
    this.#fill();
    const p = await pending;
    const waitMs = performance.now() - start;
    this.#waits.push(waitMs);
    const [h, w] = p.shape;
    const B = p.names.length;
    const image = tensor(p.image, [B, 3, h, w]);
    const label = tensor(p.label, [B, h, w]);
    return {
      image,
      label,
      names: p.names,
      indices: p.indices,
      index: k,
      waitMs,
      dispose() {
        image.dispose();
        label.dispose();
      },
    };
  }

  /** Stops prefetching and waits for the batches in flight; next() afterwards throws. */
  async close(): Promise<void> {
    this.#closed = true;
    const pending = [...this.#queue.values()];
    this.#queue.clear();
    await Promise.allSettled(pending);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
