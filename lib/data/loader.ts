// Batches for training: an epoch-shuffled stream of examples, augmented and normalised, prepared
// ahead while the current step runs (the embedded dataset's on a worker thread, prepare-worker.ts).
// Batch k (its examples, their order and their augmentation) is a pure function of (seed, k), so a
// run resumed at iteration k starts at batch k and sees the same bytes an uninterrupted run would.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { tensor, type Tensor } from '../tensor.js';
import { resolveAugment, type AugmentOptions } from './augment.js';
import type { WorkerReply, WorkerRequest } from './prepare-worker.js';
import { prepareBatch, type Prepared, type PrepareOptions } from './prepare.js';
import { generatorAt, STREAM } from './seed.js';
import { SyntheticDataset } from './synthetic.js';
import type { SegDataset } from './types.js';

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
  /** Prepare the embedded dataset's batches on a worker thread (default true; used when running compiled code). */
  worker?: boolean;
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
  #worker: PrepareWorker | null = null;
  readonly #prepareOptions: PrepareOptions;

  constructor(dataset: SegDataset, options: LoaderOptions) {
    if (!dataset || typeof dataset.get !== 'function' || !Number.isSafeInteger(dataset.length))
      throw new Error('DataLoader: expected a dataset (SegDataset: length, classes, palette, get(index))');
    if (dataset.length < 1) throw new Error(`DataLoader: dataset ${dataset.name} is empty`);
    const known = ['batchSize', 'crop', 'augment', 'shuffle', 'seed', 'prefetch', 'startBatch', 'worker'];
    for (const key of Object.keys(options ?? {})) if (!known.includes(key)) throw new Error(`DataLoader: unknown option '${key}' (expected ${known.join(', ')})`);
    const { batchSize, crop, augment = true, shuffle = true, seed = 0, prefetch = 2, startBatch = 0, worker = true } = options ?? ({} as LoaderOptions);
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
    this.#prepareOptions = { crop: this.crop, augment: this.augment, seed: this.seed };
    if (worker !== true && worker !== false) throw new Error(`DataLoader: worker must be true or false, got ${JSON.stringify(worker)}`);
    // The embedded dataset is painted in JS: off the main thread it overlaps the step (folders
    // decode on sharp's threads already). The worker runs compiled code only (dist/).
    // Exactly the embedded dataset: the worker rebuilds it from its options, which would miss a
    // subclass's overrides.
    if (worker && dataset.constructor === SyntheticDataset && WORKER_BUILT) this.#worker = new PrepareWorker(dataset as SyntheticDataset, this.#prepareOptions);
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

  async #prepare(k: number): Promise<Prepared> {
    const indices = this.indicesOf(k);
    if (this.#worker) return this.#worker.request(k, indices);
    const raw = await Promise.all(indices.map((i) => this.dataset.get(i)));
    return prepareBatch(raw, indices, k, this.#prepareOptions);
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
    await this.#worker?.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

const WORKER_URL = new URL('./prepare-worker.js', import.meta.url);
const WORKER_BUILT = existsSync(fileURLToPath(WORKER_URL));

/** One worker thread preparing batches in request order; referenced only while a batch is pending. */
class PrepareWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(p: Prepared): void; reject(e: Error): void }>();

  constructor(dataset: SyntheticDataset, prepare: PrepareOptions) {
    this.#worker = new Worker(WORKER_URL, { workerData: { dataset: dataset.options, prepare } });
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => {
      const p = this.#settle(reply.k);
      if ('error' in reply) p?.reject(new Error(reply.error));
      else p?.resolve(reply.prepared);
    });
    this.#worker.on('error', (err) => this.#failAll(err));
    this.#worker.on('exit', (code) => this.#failAll(new Error(`DataLoader: its worker thread exited (code ${code})`)));
  }

  #settle(k: number) {
    const p = this.#pending.get(k);
    this.#pending.delete(k);
    if (this.#pending.size === 0) this.#worker.unref();
    return p;
  }

  #failAll(err: Error): void {
    for (const k of [...this.#pending.keys()]) this.#settle(k)?.reject(err);
  }

  request(k: number, indices: number[]): Promise<Prepared> {
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(k, { resolve, reject });
      this.#worker.postMessage({ k, indices } satisfies WorkerRequest);
    });
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}
