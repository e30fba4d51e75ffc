// The shape of the native addon's core surface. Each kernel family declares its own functions in
// lib/native/kernels/<family>.ts; index.ts merges them into one NativeBinding type.

export type DType = 'float32' | 'int32';
export type Device = 'cpu' | 'cuda';

/** A number for both spatial dimensions, or [h, w] (kernel size, stride, padding, dilation). */
export type Pair = number | [number, number];

/** A tensor whose storage lives in native memory. Every op returns new ones. */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly size: number;
  readonly isDisposed: boolean;
  /** A copy of the data (Float32Array for float32, Int32Array for int32). */
  toArray(): Float32Array | Int32Array;
  /** Frees this tensor's hold on its storage now; later use throws. */
  dispose(): void;
  /** A view sharing storage with another shape of the same size; one dimension may be -1. */
  reshape(shape: number[]): NativeTensor;
  /** A copy on the same device. */
  clone(): NativeTensor;
  /** A copy on `device` (always a copy, even when already there). */
  to(device: Device): NativeTensor;
}

export interface NativeMemory {
  /** Live (not disposed, not collected) tensors. */
  numTensors: number;
  /** Live storages (views share one). */
  numStorages: number;
  /** Bytes held by live storages. */
  numBytes: number;
  /** Bytes handed out by the native allocator, workspaces included. */
  allocatedBytes: number;
  /** Bytes held in the allocator's cache for reuse. */
  cachedBytes: number;
  peakBytes: number;
  /** The CUDA device's allocator, when CUDA tensors can be made. */
  cuda?: NativeDeviceMemory;
}

export interface NativeDeviceMemory {
  allocatedBytes: number;
  cachedBytes: number;
  peakBytes: number;
}

export interface NativeInfo {
  /** package.json's version when the binary was built ('unknown' for dev builds). */
  version: string;
  /** The core OpenBLAS's dynamic dispatch picked (openblas_get_corename), and its build line. */
  blasCore: string;
  blasConfig: string;
  blas: string;
  threads: number;
  /** The SIMD level the kernels run at: the CPU's best, or the one ANN_SEG_SIMD forces. */
  simd: string;
  /** The levels this CPU supports, lowest first (each a valid ANN_SEG_SIMD value). */
  simdLevels: string[];
  /** The CUDA device ("NVIDIA H200, sm_90, ...", "emulated on the CPU ...") or "unavailable (reason)". */
  cuda: string;
  /** In a build with the CUDA backend: the kernels it lacks so far (each throws "no CUDA kernel"). */
  cudaKernelsMissing?: string[];
}

export interface CoreBinding {
  NativeTensor: abstract new (...args: never[]) => NativeTensor;
  /** Every creation defaults to 'cpu'; lib/tensor.ts passes the default device (ANN_SEG_DEVICE). */
  fromArray(data: Float32Array | Int32Array, shape: number[], device?: Device): NativeTensor;
  empty(shape: number[], dtype?: DType, device?: Device): NativeTensor;
  full(shape: number[], value: number, dtype?: DType, device?: Device): NativeTensor;
  memory(): NativeMemory;
  emptyCache(): void;
  /** Restarts memory().peakBytes at the bytes allocated now. */
  resetPeakBytes(): void;
  /** Waits for the CUDA device's queued kernels (a no-op without a usable CUDA device). */
  synchronize(): void;
  /** TF32 tensor-core math for the CUDA GEMMs (cuBLAS); throws where CUDA is unavailable. */
  setTF32(on: boolean): void;
  /** Whether TF32 is on (false where CUDA is unavailable). */
  tf32(): boolean;
  setNumThreads(n: number): void;
  numThreads(): number;
  info(): NativeInfo;
}
