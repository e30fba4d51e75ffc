// Tensor: the autograd-aware handle over a native tensor. Data lives in native memory; reading
// it out copies. Memory is managed as in TensorFlow.js (dispose, tidy, keep), with a
// FinalizationRegistry as a safety net that reports leaks when ANN_SEG_DEBUG_LEAKS=1.
import { native, type DType, type Device, type NativeTensor } from './native/index.js';
import { setTensorTest, track } from './autograd/scope.js';
import { dropGraph, runBackward, type GradNode } from './autograd/tape.js';
import { permute, reshape, transpose } from './ops/shape.js';
import { generatorFor } from './random.js';

const DEBUG_LEAKS = process.env.ANN_SEG_DEBUG_LEAKS === '1';
const leaks = new FinalizationRegistry<string>((origin) => {
  console.warn(`ann-seg: a tensor was garbage-collected without dispose(); it was made at\n${origin}`);
});

let nextId = 1;

export interface TensorOptions {
  requiresGrad?: boolean;
  device?: Device;
}

export class Tensor {
  readonly id = nextId++;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** @internal The node that made this tensor, when it was recorded for backward. */
  gradFn: GradNode | null = null;
  #handle: NativeTensor | null;
  #graphHolds = 0;
  #scopeReleased = false;
  #consumers = 0;

  /** @internal Wraps a native tensor; use tensor(), zeros(), ... or an op to make one. */
  constructor(handle: NativeTensor, requiresGrad = false) {
    this.#handle = handle;
    this.requiresGrad = requiresGrad;
    track(this);
    if (DEBUG_LEAKS) leaks.register(this, new Error('tensor created').stack ?? '', this);
  }

  /** @internal The native tensor; throws if disposed. */
  get native(): NativeTensor {
    if (!this.#handle) throw new Error(`tensor #${this.id}: used after dispose()`);
    return this.#handle;
  }

  get shape(): number[] {
    return this.native.shape;
  }
  get dtype(): DType {
    return this.native.dtype;
  }
  get device(): Device {
    return this.native.device;
  }
  get size(): number {
    return this.native.size;
  }
  get rank(): number {
    return this.native.shape.length;
  }
  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** A copy of the data as float32. */
  toFloat32Array(): Float32Array {
    const a = this.native.toArray();
    return a instanceof Float32Array ? a : Float32Array.from(a);
  }
  /** A copy of the data as int32 (int32 tensors only). */
  toInt32Array(): Int32Array {
    const a = this.native.toArray();
    if (!(a instanceof Int32Array)) throw new Error(`toInt32Array: tensor ${JSON.stringify(this.shape)} is ${this.dtype}`);
    return a;
  }
  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor ${JSON.stringify(this.shape)} has ${this.size} elements, not 1`);
    return this.native.toArray()[0];
  }

  /** A tensor sharing this one's data, cut off from the graph. */
  detach(): Tensor {
    return new Tensor(this.native.reshape(this.shape));
  }
  /** @internal A fresh copy of the data with no graph. */
  detachedCopy(): Tensor {
    return new Tensor(this.native.clone());
  }
  /** Tensors are always contiguous here. */
  contiguous(): Tensor {
    return this;
  }

  reshape(shape: number[]): Tensor {
    return reshape(this, shape);
  }
  permute(dims: number[]): Tensor {
    return permute(this, dims);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return transpose(this, dim0, dim1);
  }

  /** Backpropagates from this tensor (a scalar unless `grad` is given), filling leaves' .grad. */
  backward(grad?: Tensor): void {
    if (!this.requiresGrad) throw new Error('backward: this tensor does not require grad and has no graph');
    if (grad === undefined) {
      if (this.size !== 1)
        throw new Error(`backward: tensor ${JSON.stringify(this.shape)} is not a scalar; pass a gradient of the same shape`);
      const one = new Tensor(native.full(this.shape, 1));
      try {
        runBackward(this, one, addTensors);
      } finally {
        one.dispose();
      }
      return;
    }
    if (JSON.stringify(grad.shape) !== JSON.stringify(this.shape))
      throw new Error(`backward: gradient shape ${JSON.stringify(grad.shape)} does not match tensor shape ${JSON.stringify(this.shape)}`);
    runBackward(this, grad, addTensors);
  }

  /** Frees the native storage now (views made by reshape keep theirs). */
  dispose(): void {
    if (!this.#handle) return;
    this.#handle.dispose();
    this.#handle = null;
    if (DEBUG_LEAKS) leaks.unregister(this);
    this.dropGraphIfUnneeded();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal The tidy scope that made this tensor ended without returning it. */
  releaseFromScope(): void {
    if (this.#graphHolds > 0) {
      this.#scopeReleased = true;
      this.dropGraphIfUnneeded();
    } else {
      this.dispose();
    }
  }
  /** @internal A graph node took this tensor as an input that requires grad. */
  addConsumer(): void {
    this.#consumers++;
  }
  /** @internal That node was released; true when this tensor's own graph is now unneeded. */
  removeConsumer(): boolean {
    return --this.#consumers === 0 && this.#unreachable();
  }
  /** Nobody can backpropagate through this tensor any more. */
  #unreachable(): boolean {
    return this.#consumers === 0 && (this.#handle === null || this.#scopeReleased) && !!this.gradFn?.backward;
  }
  /** @internal Drops this tensor's graph when nobody can backpropagate through it any more. */
  dropGraphIfUnneeded(): void {
    if (this.#unreachable()) dropGraph(this.gradFn!);
  }
  /** @internal A graph node saved this tensor for its backward. */
  holdForGraph(): void {
    if (!this.#handle) throw new Error(`tensor #${this.id}: saved for backward after dispose()`);
    this.#graphHolds++;
  }
  /** @internal That node ran or was dropped. */
  releaseFromGraph(): void {
    if (--this.#graphHolds === 0 && this.#scopeReleased) this.dispose();
  }
}

setTensorTest((v: unknown): v is Tensor => v instanceof Tensor);

function addTensors(a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.add(a.native, b.native));
}

function checkShape(op: string, shape: number[]): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new Error(`${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
}

function onCpu(op: string, opts: TensorOptions): void {
  if (opts.device !== undefined && opts.device !== 'cpu')
    throw new Error(`${op}: device '${opts.device}' is not available in this build (cpu only)`);
}

/**
 * A tensor from data (copied). A Float32Array or plain numbers give float32, an Int32Array int32;
 * the shape defaults to the data's length.
 */
export function tensor(data: Float32Array | Int32Array | number[], shape?: number[], opts: TensorOptions = {}): Tensor {
  onCpu('tensor', opts);
  const arr = data instanceof Float32Array || data instanceof Int32Array ? data : Float32Array.from(data);
  const s = shape ?? [arr.length];
  checkShape('tensor', s);
  if (opts.requiresGrad && arr instanceof Int32Array) throw new Error('tensor: only float32 tensors can require grad');
  return new Tensor(native.fromArray(arr, s), opts.requiresGrad ?? false);
}

export function full(shape: number[], value: number, opts: TensorOptions & { dtype?: DType } = {}): Tensor {
  onCpu('full', opts);
  checkShape('full', shape);
  return new Tensor(native.full(shape, value, opts.dtype ?? 'float32'), opts.requiresGrad ?? false);
}

export function zeros(shape: number[], opts: TensorOptions & { dtype?: DType } = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: number[], opts: TensorOptions & { dtype?: DType } = {}): Tensor {
  return full(shape, 1, opts);
}

export interface RandomOptions extends TensorOptions {
  /** Seeds a fresh generator for this call; without it the default generator (manualSeed) is used. */
  seed?: number;
}

/** Standard normal samples. */
export function randn(shape: number[], opts: RandomOptions = {}): Tensor {
  onCpu('randn', opts);
  checkShape('randn', shape);
  const g = generatorFor(opts.seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = g.normal();
  return new Tensor(native.fromArray(data, shape), opts.requiresGrad ?? false);
}

/** Uniform samples in [low, high). */
export function rand(shape: number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  onCpu('rand', opts);
  checkShape('rand', shape);
  const g = generatorFor(opts.seed);
  const [lo, hi] = [opts.low ?? 0, opts.high ?? 1];
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * g.uniform();
  return new Tensor(native.fromArray(data, shape), opts.requiresGrad ?? false);
}

/** Live tensors and native bytes (the native side's own counters). */
export function memory() {
  return native.memory();
}
