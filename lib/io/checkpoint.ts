// Tensors to and from safetensors files, on top of the raw reader/writer: the stored dtypes map
// onto ours (F32/F64 -> float32, I32/I64/U8 -> int32), so a PyTorch state_dict converted with
// test/reference/convert_state_dict.py loads as is.
import type { Device } from '../device.js';
import { nativeFromArray, Tensor } from '../tensor.js';
import { readSafetensorsRaw, writeSafetensorsRaw, type RawArray, type RawTensor } from './safetensors.js';

/** A stored tensor's values in our dtypes: F32/F64 as float32, I32/I64/U8 as int32 (I64 range-checked). */
export function toTensorData(path: string, name: string, t: RawTensor): Float32Array | Int32Array {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  if (d instanceof Float64Array) return Float32Array.from(d);
  if (d instanceof Int32Array) return d;
  if (d instanceof Uint8Array) return Int32Array.from(d);
  // I64: PyTorch's integer default (num_batches_tracked, labels); int32 holds every value we use.
  const out = new Int32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v > 2147483647n || v < -2147483648n)
      throw new Error(`readSafetensors: ${path}: tensor '${name}' holds the I64 value ${v}, outside int32's range`);
    out[i] = Number(v);
  }
  return out;
}

export interface ReadSafetensorsOptions {
  /** Where the tensors are made; default: the default device (ANN_SEG_DEVICE, else 'cpu'). */
  device?: Device;
}

/**
 * Reads every tensor of a safetensors file: F32 and F64 become float32 tensors, I32, I64 and U8
 * int32 tensors. The caller owns the tensors (dispose them, or read inside tidy()).
 */
export function readSafetensors(path: string, { device }: ReadSafetensorsOptions = {}): Record<string, Tensor> {
  const raw = readSafetensorsRaw(path);
  const arrays = new Map<string, [Float32Array | Int32Array, number[]]>();
  for (const [name, t] of raw.tensors) arrays.set(name, [toTensorData(path, name, t), t.shape]);
  const out: Record<string, Tensor> = {};
  try {
    for (const [name, [data, shape]] of arrays) out[name] = new Tensor(nativeFromArray(data, shape, device));
  } catch (err) {
    for (const t of Object.values(out)) t.dispose();
    throw new Error(`readSafetensors: ${path}: ${(err as Error).message}`);
  }
  return out;
}

/** The string metadata (`__metadata__`) of a safetensors file. */
export function readSafetensorsMetadata(path: string): Record<string, string> {
  return readSafetensorsRaw(path).metadata;
}

/**
 * Writes tensors (float32 as F32, int32 as I32) to a safetensors file atomically: a temporary
 * file in the same folder, then a rename. Keys are stored sorted, as Python's safetensors does.
 */
export function writeSafetensors(path: string, record: Record<string, Tensor>, metadata?: Record<string, string>): void {
  const tensors: Record<string, { shape: number[]; data: RawArray }> = {};
  for (const [name, t] of Object.entries(record)) {
    if (!(t instanceof Tensor))
      throw new Error(`writeSafetensors: ${path}: value '${name}' is not a Tensor (${typeof t})`);
    if (t.isDisposed) throw new Error(`writeSafetensors: ${path}: tensor '${name}' was disposed`);
    tensors[name] = { shape: t.shape, data: t.native.toArray() };
  }
  if (metadata)
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string')
        throw new Error(`writeSafetensors: ${path}: metadata '${k}' must be a string, got ${typeof v}`);
  writeSafetensorsRaw(path, tensors, metadata);
}
