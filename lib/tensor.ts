// Tensor: the autograd-aware handle over a native tensor. Data lives in native memory; reading
// it out copies. Memory is managed as in TensorFlow.js (dispose, tidy, keep), with a
// FinalizationRegistry as a safety net that reports leaks when ANN_SEG_DEBUG_LEAKS=1. Every tensor
// of the package is made here, on the `device` option or the default device (ANN_SEG_DEVICE).
import { native, type DType, type Device, type NativeTensor } from './native/index.js';
import { setTensorTest, track } from './autograd/scope.js';
import { dropGraph, needsGrad, record, runBackward, type GradNode } from './autograd/tape.js';
import { parseDevice, resolveDevice } from './device.js';
import { wrapDim } from './ops/dims.js';
import { generatorFor } from './random.js';

const DEBUG_LEAKS = process.env.ANN_SEG_DEBUG_LEAKS === '1';
const leaks = new FinalizationRegistry<string>((origin) => {
  console.warn(`ann-seg: a tensor was garbage-collected without dispose(); it was made at\n${origin}`);
});

let nextId = 1;

export interface TensorOptions {
  requiresGrad?: boolean;
  /** 'cpu' or 'cuda'; default: ANN_SEG_DEVICE, else 'cpu'. */
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

  /** A view with another shape of the same size (one dimension may be -1). */
  reshape(shape: number[]): Tensor {
    const inShape = this.shape;
    const y = new Tensor(this.native.reshape(shape));
    if (needsGrad(this)) record('reshape', [this], y, (g) => [new Tensor(g.native.reshape(inShape))]);
    return y;
  }
  /** Reorders the dimensions (a contiguous copy, as tensors are always contiguous here). */
  permute(dims: number[]): Tensor {
    const y = new Tensor(native.permute(this.native, dims));
    if (needsGrad(this)) {
      const rank = dims.length;
      const inverse = new Array<number>(rank);
      dims.forEach((d, i) => (inverse[d < 0 ? d + rank : d] = i));
      record('permute', [this], y, (g) => [new Tensor(native.permute(g.native, inverse))]);
    }
    return y;
  }
  /** Swaps two dimensions. */
  transpose(dim0: number, dim1: number): Tensor {
    const dims = this.shape.map((_, i) => i);
    const [a, b] = [wrapDim('transpose', this, dim0), wrapDim('transpose', this, dim1)];
    if (this.rank === 0) return this.reshape([]);
    [dims[a], dims[b]] = [dims[b], dims[a]];
    return this.permute(dims);
  }

  /**
   * This tensor on `device`: the tensor itself when it is already there (as PyTorch's Tensor.to),
   * else a copy, through which gradients flow back to this tensor.
   */
  to(device: Device): Tensor {
    const d = parseDevice('to', device);
    const from = this.device;
    if (d === from) return this;
    const y = new Tensor(this.native.to(d));
    if (needsGrad(this)) record('to', [this], y, (g) => [new Tensor(g.native.to(from))]);
    return y;
  }

  /**
   * @internal Moves the storage to `device` in place, keeping this object (Module.to keeps
   * Parameter identity, as PyTorch's does); views made earlier keep the old storage.
   */
  moveStorageTo(device: Device): void {
    const old = this.native;
    if (old.device === device) return;
    this.#handle = old.to(device);
    old.dispose();
  }

  /** Backpropagates from this tensor (a scalar unless `grad` is given), filling leaves' .grad. */
  backward(grad?: Tensor): void {
    if (!this.requiresGrad) throw new Error('backward: this tensor does not require grad and has no graph');
    if (grad === undefined) {
      if (this.size !== 1)
        throw new Error(`backward: tensor ${JSON.stringify(this.shape)} is not a scalar; pass a gradient of the same shape`);
      const one = full(this.shape, 1, { device: this.device });
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

// The native creations, on the given device or the default one: the only calls of native.fromArray,
// empty and full in lib/, for code that works below Tensor (fixtures, module state, optimiser state).

/** @internal A native tensor holding a copy of `data`. */
export function nativeFromArray(data: Float32Array | Int32Array, shape: number[], device?: Device): NativeTensor {
  return native.fromArray(data, shape, resolveDevice('fromArray', device));
}
/** @internal An uninitialised native tensor. */
export function nativeEmpty(shape: number[], dtype: DType = 'float32', device?: Device): NativeTensor {
  return native.empty(shape, dtype, resolveDevice('empty', device));
}
/** @internal A native tensor filled with `value`. */
export function nativeFull(shape: number[], value: number, dtype: DType = 'float32', device?: Device): NativeTensor {
  return native.full(shape, value, dtype, resolveDevice('full', device));
}

/**
 * A tensor from data (copied). A Float32Array or plain numbers give float32, an Int32Array int32;
 * the shape defaults to the data's length.
 */
export function tensor(data: Float32Array | Int32Array | number[], shape?: number[], opts: TensorOptions = {}): Tensor {
  const arr = data instanceof Float32Array || data instanceof Int32Array ? data : Float32Array.from(data);
  const s = shape ?? [arr.length];
  checkShape('tensor', s);
  if (opts.requiresGrad && arr instanceof Int32Array) throw new Error('tensor: only float32 tensors can require grad');
  return new Tensor(native.fromArray(arr, s, resolveDevice('tensor', opts.device)), opts.requiresGrad ?? false);
}

export function full(shape: number[], value: number, opts: TensorOptions & { dtype?: DType } = {}): Tensor {
  checkShape('full', shape);
  const device = resolveDevice('full', opts.device);
  return new Tensor(native.full(shape, value, opts.dtype ?? 'float32', device), opts.requiresGrad ?? false);
}

/** An uninitialised tensor (its values are whatever the memory held). */
export function empty(shape: number[], opts: TensorOptions & { dtype?: DType } = {}): Tensor {
  checkShape('empty', shape);
  const device = resolveDevice('empty', opts.device);
  return new Tensor(native.empty(shape, opts.dtype ?? 'float32', device), opts.requiresGrad ?? false);
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
  checkShape('randn', shape);
  const device = resolveDevice('randn', opts.device);
  const g = generatorFor(opts.seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = g.normal();
  return new Tensor(native.fromArray(data, shape, device), opts.requiresGrad ?? false);
}

/** Uniform samples in [low, high). */
export function rand(shape: number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape('rand', shape);
  const device = resolveDevice('rand', opts.device);
  const g = generatorFor(opts.seed);
  const [lo, hi] = [opts.low ?? 0, opts.high ?? 1];
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * g.uniform();
  return new Tensor(native.fromArray(data, shape, device), opts.requiresGrad ?? false);
}

/** Live tensors and native bytes (the native side's own counters). */
export function memory() {
  return native.memory();
}
