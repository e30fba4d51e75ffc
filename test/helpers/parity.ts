// Fixture loading and the one tolerance rule every parity test uses (flash-attention's):
// our float32 error against PyTorch's float64 truth must be at most twice PyTorch's own float32
// error against that truth, plus a tiny absolute floor scaled to the values' magnitude.
import { join } from 'node:path';

import { expect } from 'vitest';

import { native, packageRoot, type NativeTensor } from '../../lib/native/index.js';
import { toTensorData } from '../../lib/io/checkpoint.js';
import { readSafetensorsRaw, type RawTensor } from '../../lib/io/safetensors.js';

export const FLOOR = 1e-6;

export interface ParityReport {
  ours: number;
  torch: number;
  allowed: number;
}

function toNumbers(x: NativeTensor | Float32Array | Float64Array | Int32Array): ArrayLike<number> {
  if (x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array) return x;
  return x.toArray();
}

/**
 * Checks `actual` against the truth and PyTorch's float32 result; throws a descriptive error.
 * Where a fixture recorded a second PyTorch float32 path (`torchAlt`, e.g. convolutions with
 * mkldnn off), PyTorch's float32 error is the larger of the two: one path's error over a deep
 * network's few-element gradients is a single noisy sample.
 */
export function checkParity(
  label: string,
  actual: ArrayLike<number>,
  truth: ArrayLike<number>,
  torch32: ArrayLike<number>,
  torchAlt?: ArrayLike<number>,
): ParityReport {
  if (actual.length !== truth.length)
    throw new Error(`${label}: ${actual.length} values, expected ${truth.length}`);
  let ours = 0;
  let torch = 0;
  let scale = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    if (Number.isNaN(t)) {
      if (!Number.isNaN(actual[i])) throw new Error(`${label}: expected NaN at ${i}, got ${actual[i]}`);
      continue;
    }
    if (!Number.isFinite(t)) {
      if (actual[i] !== t) throw new Error(`${label}: expected ${t} at ${i}, got ${actual[i]}`);
      continue;
    }
    const a = actual[i];
    if (!Number.isFinite(a)) throw new Error(`${label}: got ${a} at ${i}, expected ${t}`);
    ours = Math.max(ours, Math.abs(a - t));
    torch = Math.max(torch, Math.abs(torch32[i] - t), torchAlt ? Math.abs(torchAlt[i] - t) : 0);
    scale = Math.max(scale, Math.abs(t));
  }
  const allowed = 2 * torch + FLOOR * Math.max(1, scale);
  if (!(ours <= allowed)) {
    let worst = 0;
    for (let i = 1; i < truth.length; i++)
      if (Math.abs(actual[i] - truth[i]) > Math.abs(actual[worst] - truth[worst])) worst = i;
    throw new Error(
      `${label}: max error ${ours.toExponential(3)} exceeds ${allowed.toExponential(3)} ` +
        `(PyTorch float32 error ${torch.toExponential(3)}); worst at ${worst}: ours ${actual[worst]}, truth ${truth[worst]}`,
    );
  }
  return { ours, torch, allowed };
}

export class Fixture {
  readonly tensors: Map<string, RawTensor>;
  readonly metadata: Record<string, string>;
  private readonly made: NativeTensor[] = [];

  constructor(readonly name: string) {
    const raw = readSafetensorsRaw(join(packageRoot(), 'test', 'fixtures', `${name}.safetensors`));
    this.tensors = raw.tensors;
    this.metadata = raw.metadata;
  }

  raw(key: string): RawTensor {
    const t = this.tensors.get(key);
    if (!t) throw new Error(`fixture ${this.name}: no tensor '${key}'`);
    return t;
  }

  shape(key: string): number[] {
    return this.raw(key).shape;
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  /** A native tensor from a stored input: float types become float32, integer types int32. */
  input(key: string): NativeTensor {
    const t = this.raw(key);
    const out = native.fromArray(toTensorData(this.name, key, t), t.shape);
    this.made.push(out);
    return out;
  }

  numbers(key: string): number[] {
    const d = this.raw(key).data;
    return d instanceof BigInt64Array ? Array.from(d, (v) => Number(v)) : Array.from(d);
  }

  /** Asserts parity of `actual` with `key.f64` / `key.f32`, including the shape when a tensor is given. */
  expect(key: string, actual: NativeTensor | Float32Array | Int32Array, label = `${this.name}:${key}`): ParityReport {
    const truth = this.raw(`${key}.f64`);
    const torch = this.raw(`${key}.f32`);
    if (!(actual instanceof Float32Array || actual instanceof Int32Array)) {
      expect(actual.shape, `${label} shape`).toEqual(truth.shape);
    }
    const alt = this.tensors.get(`${key}.f32alt`)?.data as Float32Array | undefined;
    return checkParity(label, toNumbers(actual), truth.data as Float64Array, torch.data as Float32Array, alt);
  }

  /** Disposes every tensor made by input(). */
  dispose(): void {
    for (const t of this.made) if (!t.isDisposed) t.dispose();
    this.made.length = 0;
  }
}
