// The official input normalisation (MendelXu/ANN, ANN-SEMANTICS.md): BGR channel order, values
// 0..255, minus the per-channel mean, std 1. Training, evaluation and prediction all go through
// this file, so a model never sees inputs prepared two ways.
import { tensor, type Tensor } from '../tensor.js';
import { MEAN_BGR, normalizeInto } from './pixels.js';
import type { RawSample } from './types.js';

export { IGNORE_INDEX, MEAN_BGR, MEAN_RGB_U8, normalizeInto } from './pixels.js';

function checkSame(what: string, samples: readonly RawSample[]): { h: number; w: number } {
  if (samples.length === 0) throw new Error(`${what}: no samples`);
  const { height: h, width: w } = samples[0];
  for (const s of samples) {
    if (s.height !== h || s.width !== w)
      throw new Error(`${what}: samples differ in size (${samples[0].name} is ${h}x${w}, ${s.name} is ${s.height}x${s.width}); crop or resize them first`);
    if (s.image.length !== s.height * s.width * 3 || s.label.length !== s.height * s.width)
      throw new Error(`${what}: ${s.name} has ${s.image.length} image bytes and ${s.label.length} label bytes for ${s.height}x${s.width}`);
  }
  return { h, w };
}

/** The network input for same-sized samples: float32 [B, 3, H, W], BGR minus MEAN_BGR. */
export function toInputTensor(samples: readonly RawSample[]): Tensor {
  const { h, w } = checkSame('toInputTensor', samples);
  const out = new Float32Array(samples.length * 3 * h * w);
  samples.forEach((s, b) => normalizeInto(s.image, h, w, out, b * 3 * h * w));
  return tensor(out, [samples.length, 3, h, w]);
}

/** The class ids of same-sized samples: int32 [B, H, W] (255 = ignore). */
export function toLabelTensor(samples: readonly RawSample[]): Tensor {
  const { h, w } = checkSame('toLabelTensor', samples);
  const out = new Int32Array(samples.length * h * w);
  samples.forEach((s, b) => out.set(s.label, b * h * w));
  return tensor(out, [samples.length, h, w]);
}

/** The inverse of the normalisation for one [3, H, W] plane set: RGB bytes [H, W, 3] (for pictures). */
export function denormalize(planes: Float32Array, height: number, width: number): Uint8Array {
  const n = height * width;
  if (planes.length !== 3 * n) throw new Error(`denormalize: ${planes.length} values for 3 x ${height} x ${width}`);
  const out = new Uint8Array(3 * n);
  const [mb, mg, mr] = MEAN_BGR;
  const u8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i < n; i++) {
    out[3 * i] = u8(planes[2 * n + i] + mr);
    out[3 * i + 1] = u8(planes[n + i] + mg);
    out[3 * i + 2] = u8(planes[i] + mb);
  }
  return out;
}
