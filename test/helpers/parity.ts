// Fixture loading and the one tolerance rule every parity test uses (flash-attention's):
// our float32 error against PyTorch's float64 truth must be at most twice PyTorch's own float32
// error against that truth, plus a tiny absolute floor scaled to the values' magnitude. Both the
// error and the magnitude are taken over the element's magnitude class (see checkParity).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'vitest';

import { packageRoot, type NativeTensor } from '../../lib/native/index.js';
import { nativeFromArray } from '../../lib/tensor.js';
import { toTensorData } from '../../lib/io/checkpoint.js';
import { readSafetensorsRaw, type RawTensor } from '../../lib/io/safetensors.js';

export const FLOOR = 1e-6;
/**
 * An element is held to the errors and magnitudes of the elements at most this many decades
 * above its own (magnitudes below 1 count as 1, the floor's unit), so one huge element cannot
 * lend its allowance to ordinary ones; three decades keep each class wide enough that
 * cancellation in a long sum is still measured against PyTorch's error on comparable values.
 */
export const CLASS_DECADES = 3;

export interface ParityReport {
  /** The magnitude class (decade of max(1, |truth|)) whose ratio of error to allowance is highest. */
  decade: number;
  ours: number;
  torch: number;
  allowed: number;
}

function toNumbers(x: NativeTensor | Float32Array | Float64Array | Int32Array): ArrayLike<number> {
  if (x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array) return x;
  return x.toArray();
}

/** The magnitude class of a finite truth value: the decade of max(1, |t|), from 0 up to 38. */
export function decadeOf(t: number): number {
  return Math.max(0, Math.floor(Math.log10(Math.abs(t))));
}

/** The fixture directory: ANN_SEG_FIXTURES_DIR (e.g. a seed sweep's output) or test/fixtures. */
export function fixturesDir(): string {
  return process.env.ANN_SEG_FIXTURES_DIR || join(packageRoot(), 'test', 'fixtures');
}

/**
 * Checks `actual` against the truth and PyTorch's float32 result; throws a descriptive error.
 * Every element of magnitude class d must be within 2 * (PyTorch's largest float32 error over
 * classes up to d + CLASS_DECADES) + FLOOR * max(1, largest |truth| over those classes). Over a
 * tensor spanning fewer decades this is the single per-tensor bound; otherwise each class is held
 * to a bound at most that one. Where a fixture recorded a second PyTorch float32 path (`torchAlt`,
 * e.g. convolutions with mkldnn off), PyTorch's float32 error is the larger of the two: one
 * path's error over a deep network's few-element gradients is a single noisy sample.
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
  // Per class: our largest error (and where), PyTorch's largest error, the largest |truth|.
  const ours = new Float64Array(40);
  const worstAt = new Int32Array(40).fill(-1);
  const torch = new Float64Array(40);
  const scale = new Float64Array(40);
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
    const d = decadeOf(t);
    const err = Math.abs(a - t);
    if (err > ours[d] || worstAt[d] < 0) {
      ours[d] = err;
      worstAt[d] = i;
    }
    torch[d] = Math.max(torch[d], Math.abs(torch32[i] - t), torchAlt ? Math.abs(torchAlt[i] - t) : 0);
    scale[d] = Math.max(scale[d], Math.abs(t));
  }
  let report: ParityReport = { decade: 0, ours: 0, torch: 0, allowed: FLOOR };
  let worstRatio = -1;
  for (let d = 0; d < 40; d++) {
    if (worstAt[d] < 0) continue;
    let torchUp = 0;
    let scaleUp = 0;
    for (let e = 0; e <= Math.min(39, d + CLASS_DECADES); e++) {
      torchUp = Math.max(torchUp, torch[e]);
      scaleUp = Math.max(scaleUp, scale[e]);
    }
    const allowed = 2 * torchUp + FLOOR * Math.max(1, scaleUp);
    if (!(ours[d] <= allowed)) {
      const w = worstAt[d];
      throw new Error(
        `${label}: max error ${ours[d].toExponential(3)} exceeds ${allowed.toExponential(3)} ` +
          `(PyTorch float32 error ${torchUp.toExponential(3)}; magnitude class 1e${d}); ` +
          `worst at ${w}: ours ${actual[w]}, truth ${truth[w]}`,
      );
    }
    if (ours[d] / allowed > worstRatio) {
      worstRatio = ours[d] / allowed;
      report = { decade: d, ours: ours[d], torch: torchUp, allowed };
    }
  }
  return report;
}

/** The relative size of the one-element error every parity check must reject (see mutationEscapes). */
export const MUTATION = 1e-3;

/**
 * Proves a check can fail: perturbs `actual` at its smallest- and its largest-magnitude finite
 * truth element by MUTATION relative (magnitudes below 1 count as 1, the floor's unit) and returns
 * the indices whose perturbed copy checkParity still accepts. Where the fixture recorded each
 * element's rounding scale (`scale`: a weight gradient's sum over positions taken over its terms'
 * magnitudes, test/reference/common.py grad_scales), the error is relative to that scale when it is
 * larger: a weight gradient's smallest element is a cancelled sum whose value sits decades below the
 * rounding every float32 path makes in it (PyTorch's own error there reaches 7e-4 of the value), so
 * no rule that accepts PyTorch could reject 1e-3 of the value itself.
 */
export function mutationEscapes(
  actual: ArrayLike<number>,
  truth: ArrayLike<number>,
  torch32: ArrayLike<number>,
  torchAlt?: ArrayLike<number>,
  scale?: ArrayLike<number>,
): number[] {
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < truth.length; i++) {
    const t = Math.abs(truth[i]);
    if (!Number.isFinite(t)) continue;
    if (lo < 0 || t < Math.abs(truth[lo])) lo = i;
    if (hi < 0 || t > Math.abs(truth[hi])) hi = i;
  }
  const escaped: number[] = [];
  const copy = Float64Array.from(actual);
  for (const i of new Set([lo, hi])) {
    if (i < 0) continue;
    const a = copy[i];
    copy[i] = a + MUTATION * Math.max(1, Math.abs(truth[i]), scale ? scale[i] : 0);
    try {
      checkParity('mutation', copy, truth, torch32, torchAlt);
      escaped.push(i);
    } catch {
      // The perturbation was caught, as it must be.
    }
    copy[i] = a;
  }
  return escaped;
}

/**
 * With ANN_SEG_PARITY_LOG=file (a seed sweep), each check appends `label ok|FAIL ...`; a Fixture
 * check whose mutation escapes appends a second line `label FAIL mutation: ...` (scripts/seed-sweep.sh).
 */
function logCheck(label: string, outcome: string): void {
  const log = process.env.ANN_SEG_PARITY_LOG;
  if (log) appendFileSync(log, `${label} ${outcome}\n`);
}

/**
 * checkParity, counted in a sweep's ANN_SEG_PARITY_LOG: there a failure is logged and fails the test
 * softly (so the test goes on to its other checks) and the report's numbers are NaN.
 */
export function checkParityLogged(
  label: string,
  actual: ArrayLike<number>,
  truth: ArrayLike<number>,
  torch32: ArrayLike<number>,
  torchAlt?: ArrayLike<number>,
): ParityReport {
  try {
    const report = checkParity(label, actual, truth, torch32, torchAlt);
    logCheck(label, `ok ${(report.ours / report.allowed).toFixed(3)}`);
    return report;
  } catch (err) {
    if (!process.env.ANN_SEG_PARITY_LOG) throw err;
    logCheck(label, `FAIL ${(err as Error).message}`);
    expect.soft(err, (err as Error).message).toBeUndefined();
    return { decade: 0, ours: Number.NaN, torch: Number.NaN, allowed: Number.NaN };
  }
}

export class Fixture {
  readonly tensors: Map<string, RawTensor>;
  readonly metadata: Record<string, string>;
  private readonly made: NativeTensor[] = [];

  constructor(readonly name: string) {
    const raw = readSafetensorsRaw(join(fixturesDir(), `${name}.safetensors`));
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

  /**
   * A native tensor from a stored input, on the default device (ANN_SEG_DEVICE): float types become
   * float32, integer types int32. Results are compared after toArray() copies them back.
   */
  input(key: string): NativeTensor {
    const t = this.raw(key);
    const out = nativeFromArray(toTensorData(this.name, key, t), t.shape);
    this.made.push(out);
    return out;
  }

  numbers(key: string): number[] {
    const d = this.raw(key).data;
    return d instanceof BigInt64Array ? Array.from(d, (v) => Number(v)) : Array.from(d);
  }

  /** What a checked key's output is compared with: the float64 truth, PyTorch's float32 path(s), the rounding scale. */
  references(key: string): { shape: number[]; truth: Float64Array; torch: Float32Array; alt?: Float32Array; scale?: Float32Array } {
    const truth = this.raw(`${key}.f64`);
    return {
      shape: truth.shape,
      truth: truth.data as Float64Array,
      torch: this.raw(`${key}.f32`).data as Float32Array,
      alt: this.tensors.get(`${key}.f32alt`)?.data as Float32Array | undefined,
      scale: this.tensors.get(`${key}.scale`)?.data as Float32Array | undefined,
    };
  }

  /** Asserts parity of `actual` with `key.f64` / `key.f32`, including the shape when a tensor is given. */
  expect(key: string, actual: NativeTensor | Float32Array | Int32Array, label = `${this.name}:${key}`): ParityReport {
    const { shape, truth, torch, alt, scale } = this.references(key);
    if (!(actual instanceof Float32Array || actual instanceof Int32Array)) {
      expect(actual.shape, `${label} shape`).toEqual(shape);
    }
    const ours = toNumbers(actual);
    const report = checkParityLogged(label, ours, truth, torch, alt);
    if (Number.isNaN(report.allowed)) return report;
    // Every check also shows it would fail on a one-element error of our output.
    const escaped = mutationEscapes(ours, truth, torch, alt, scale);
    if (escaped.length) {
      const err = new Error(`${label}: the parity check accepts a ${MUTATION} relative error at element ${escaped.join(', ')} (it cannot fail there)`);
      if (!process.env.ANN_SEG_PARITY_LOG) throw err;
      logCheck(label, `FAIL mutation: ${err.message}`);
      expect.soft(err, err.message).toBeUndefined();
    }
    return report;
  }

  /** As expect(), for a key whose fixture must also hold PyTorch's second float32 path (`key.f32alt`). */
  expectBothPaths(key: string, actual: NativeTensor, label = `${this.name}:${key}`): ParityReport {
    this.raw(`${key}.f32alt`);
    return this.expect(key, actual, label);
  }

  /** Disposes every tensor made by input(). */
  dispose(): void {
    for (const t of this.made) if (!t.isDisposed) t.dispose();
    this.made.length = 0;
  }
}

/**
 * A fixture's list of cases for it.each, asserted to hold exactly `expected` of them: a fixture
 * regenerated with fewer cases must fail the test file, not shrink it.
 */
export function counted<T>(label: string, cases: readonly T[], expected: number): T[] {
  if (cases.length !== expected)
    throw new Error(`${label}: the fixture has ${cases.length} cases, this test expects ${expected}`);
  return [...cases];
}
