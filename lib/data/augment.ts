// The paper's training augmentation (ANN-SEMANTICS.md; openseg's RandomResize, RandomCrop,
// RandomHFlip, RandomBrightness): random scale, a random crop padded with ignore labels, a
// horizontal flip and a brightness shift, drawn from one seeded Generator.
//
// The scaled image is never built: each output pixel of the crop window is sampled straight from
// the source, which gives the same pixels as resize-then-crop at a cost set by the crop, not the
// scale (a 2048 x 1024 image at scale 2 would be 25 MB before cropping). It is plain JS arithmetic,
// so the bytes are the same on every machine, which a libvips resize would not promise.
import type { Generator } from '../random.js';
import { IGNORE_INDEX, MEAN_RGB_U8 } from './pixels.js';
import { randInt, randUniform } from './seed.js';
import type { RawSample } from './types.js';

export interface AugmentOptions {
  /** Scale factor range, drawn uniformly; default [0.5, 2.0]. */
  scale?: readonly [number, number];
  /** Mirror left-right with probability 1/2; default true. */
  flip?: boolean;
  /** Add one uniform shift in [-b, b] to every image value; default 10. 0 turns it off. */
  brightness?: number;
}

export const DEFAULT_AUGMENT: Readonly<Required<AugmentOptions>> = Object.freeze({ scale: [0.5, 2.0] as const, flip: true, brightness: 10 });

/** What one draw decided; resample() applies it. */
export interface AugmentParams {
  scale: number;
  /** Top-left of the output window in the scaled image; negative where the window pads. */
  top: number;
  left: number;
  flip: boolean;
  shift: number;
}

/** Checks augmentation options and fills in the defaults; throws naming the bad field. */
export function resolveAugment(options: AugmentOptions = {}): Required<AugmentOptions> {
  for (const key of Object.keys(options))
    if (!(key in DEFAULT_AUGMENT)) throw new Error(`augment: unknown option '${key}' (expected scale, flip, brightness)`);
  const o = { ...DEFAULT_AUGMENT, ...options };
  const [lo, hi] = Array.isArray(o.scale) ? o.scale : [NaN, NaN];
  if (!(lo > 0 && hi >= lo && Number.isFinite(hi))) throw new Error(`augment: scale must be [min, max] with 0 < min <= max, got ${JSON.stringify(o.scale)}`);
  if (typeof o.flip !== 'boolean') throw new Error(`augment: flip must be true or false, got ${JSON.stringify(o.flip)}`);
  if (!(typeof o.brightness === 'number' && o.brightness >= 0 && o.brightness <= 255))
    throw new Error(`augment: brightness must be a number in [0, 255], got ${JSON.stringify(o.brightness)}`);
  return { scale: [lo, hi], flip: o.flip, brightness: o.brightness };
}

/** The size of a [h, w] image at scale s (at least 1 x 1). */
export function scaledSize(height: number, width: number, s: number): [number, number] {
  return [Math.max(1, Math.round(height * s)), Math.max(1, Math.round(width * s))];
}

/** A window offset: inside the image when it fits, else a random placement of the image in the window. */
function offset(g: Generator, size: number, window: number): number {
  return randInt(g, Math.min(0, size - window), Math.max(0, size - window));
}

/**
 * Draws the augmentation of one [height, width] example for a crop of [ch, cw]. Always draws the
 * same numbers in the same order, whatever the options, so turning one part off leaves the others.
 */
export function drawAugment(g: Generator, height: number, width: number, crop: readonly [number, number], options: Required<AugmentOptions>): AugmentParams {
  const [lo, hi] = options.scale;
  const scale = randUniform(g, lo, hi);
  const [sh, sw] = scaledSize(height, width, scale);
  const top = offset(g, sh, crop[0]);
  const left = offset(g, sw, crop[1]);
  const flip = g.uniform() < 0.5 && options.flip;
  const shift = randUniform(g, -1, 1) * options.brightness;
  return { scale, top, left, flip, shift };
}

/** The centred window of [ch, cw] at scale 1, no flip, no shift (for unaugmented crops). */
export function centerParams(height: number, width: number, crop: readonly [number, number]): AugmentParams {
  return { scale: 1, top: Math.floor((height - crop[0]) / 2), left: Math.floor((width - crop[1]) / 2), flip: false, shift: 0 };
}

/** Source sample positions for one axis: bilinear (half-pixel centres, as cv2/PyTorch align_corners=False) and nearest. */
function axis(n: number, srcSize: number, scaledSize: number, start: number, flip: boolean) {
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const frac = new Float64Array(n);
  const nearest = new Int32Array(n);
  const ratio = srcSize / scaledSize;
  for (let o = 0; o < n; o++) {
    const p = start + (flip ? n - 1 - o : o);
    if (p < 0 || p >= scaledSize) {
      nearest[o] = -1;
      continue;
    }
    const s = Math.min(Math.max((p + 0.5) * ratio - 0.5, 0), srcSize - 1);
    const f = Math.floor(s);
    i0[o] = f;
    i1[o] = Math.min(f + 1, srcSize - 1);
    frac[o] = s - f;
    nearest[o] = Math.min(Math.floor((p + 0.5) * ratio), srcSize - 1);
  }
  return { i0, i1, frac, nearest };
}

/**
 * Applies drawn parameters: the [ch, cw] window at (top, left) of the sample scaled by `scale`
 * (image bilinear, labels nearest), mirrored when `flip`, image values shifted by `shift`. Pixels
 * outside the scaled image get label 255 and the mean colour (which normalises to about 0).
 */
export function resample(sample: RawSample, crop: readonly [number, number], p: AugmentParams): RawSample {
  const [ch, cw] = crop;
  const { height: h, width: w, image: src, label: srcLabel } = sample;
  const [sh, sw] = scaledSize(h, w, p.scale);
  const ys = axis(ch, h, sh, p.top, false);
  const xs = axis(cw, w, sw, p.left, p.flip);
  const image = new Uint8Array(ch * cw * 3);
  const label = new Uint8Array(ch * cw).fill(IGNORE_INDEX);
  for (let oy = 0; oy < ch; oy++) {
    const inside = ys.nearest[oy] >= 0;
    const r0 = ys.i0[oy] * w;
    const r1 = ys.i1[oy] * w;
    const fy = ys.frac[oy];
    const rn = ys.nearest[oy] * w;
    for (let ox = 0; ox < cw; ox++) {
      const o = oy * cw + ox;
      if (!inside || xs.nearest[ox] < 0) {
        image[3 * o] = MEAN_RGB_U8[0];
        image[3 * o + 1] = MEAN_RGB_U8[1];
        image[3 * o + 2] = MEAN_RGB_U8[2];
        continue;
      }
      const c0 = xs.i0[ox];
      const c1 = xs.i1[ox];
      const fx = xs.frac[ox];
      for (let k = 0; k < 3; k++) {
        const top = src[3 * (r0 + c0) + k] * (1 - fx) + src[3 * (r0 + c1) + k] * fx;
        const bottom = src[3 * (r1 + c0) + k] * (1 - fx) + src[3 * (r1 + c1) + k] * fx;
        const v = Math.round(top * (1 - fy) + bottom * fy + p.shift);
        image[3 * o + k] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      label[o] = srcLabel[rn + xs.nearest[ox]];
    }
  }
  return { image, label, height: ch, width: cw, name: sample.name };
}

/** One augmented [ch, cw] example drawn from g. */
export function augment(sample: RawSample, crop: readonly [number, number], g: Generator, options: AugmentOptions = {}): RawSample {
  return resample(sample, crop, drawAugment(g, sample.height, sample.width, crop, resolveAugment(options)));
}
