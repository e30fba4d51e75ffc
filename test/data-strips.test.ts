// lib/data/synthetic-strip.ts: the embedded dataset's strips, whose token cue lies beyond a
// convolution's reach.
import { describe, expect, it } from 'vitest';

import { data, models, nn, noGrad, train, type Tensor } from '../lib/index.js';

const { synthetic, STRIP_CAST } = data;
const [BG, STRIPES, CHECKS, GROUND_RED, GROUND_BLUE, TOKEN_RED, TOKEN_BLUE] = [0, 1, 2, 3, 4, 5, 6];

describe('synthetic strips', () => {
  it('are 64 x 512 by default and a pure function of (seed, split, index)', () => {
    const ds = synthetic({ layout: 'strips', length: 4 });
    const a = ds.sample(2);
    expect([a.height, a.width, a.image.length, a.label.length, a.name]).toEqual([64, 512, 64 * 512 * 3, 64 * 512, 'strip-train-0-2']);
    const b = synthetic({ layout: 'strips', length: 9 }).sample(2);
    expect(Buffer.compare(Buffer.from(a.image), Buffer.from(b.image))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.label), Buffer.from(b.label))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.image), Buffer.from(synthetic({ layout: 'strips', split: 'val' }).sample(2).image))).not.toBe(0);
    expect(ds.name).toBe('synthetic(strips, train, seed 0, 4 x 64x512)');
  });

  it('put the cast in the first quarter, the tokens in the last eighth, the textures between, and label the tokens after the cast', () => {
    const ds = synthetic({ layout: 'strips', height: 48, width: 320, length: 24 });
    const [h, w] = [48, 320];
    const castEnd = Math.round(STRIP_CAST * w);
    let reds = 0;
    for (let i = 0; i < ds.length; i++) {
      const s = ds.sample(i);
      const counts = new Map<number, number>();
      // Where each class may lie: [first column, end column); the first misplaced pixel is reported.
      const zone: Record<number, [number, number]> = {
        [GROUND_RED]: [0, castEnd],
        [GROUND_BLUE]: [0, castEnd],
        [TOKEN_RED]: [(7 * w) / 8, w],
        [TOKEN_BLUE]: [(7 * w) / 8, w],
        [STRIPES]: [castEnd, (7 * w) / 8],
        [CHECKS]: [castEnd, (7 * w) / 8],
        [BG]: [castEnd, w],
      };
      let misplaced = '';
      let weakTint = 0;
      let tintedGrey = 0;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const p = y * w + x;
          const c = s.label[p];
          counts.set(c, (counts.get(c) ?? 0) + 1);
          const [lo, hi] = zone[c] ?? [0, -1];
          if (!misplaced && !(x >= lo && x < hi)) misplaced = `class ${c} at x ${x} of scene ${i}`;
          const rb = s.image[3 * p] - s.image[3 * p + 2];
          // Tinted 45 levels each way against noise shared by the three channels; grey elsewhere.
          if ((c === GROUND_RED && rb <= 60) || (c === GROUND_BLUE && rb >= -60)) weakTint++;
          if (c === BG && rb !== 0) tintedGrey++;
        }
      expect(misplaced).toBe('');
      expect([weakTint, tintedGrey]).toEqual([0, 0]);
      const red = (counts.get(GROUND_RED) ?? 0) > 0;
      // The whole cast region is one colour, and every token follows it.
      expect(counts.get(red ? GROUND_RED : GROUND_BLUE)).toBe(castEnd * h);
      expect(counts.get(red ? GROUND_BLUE : GROUND_RED)).toBeUndefined();
      expect(counts.get(red ? TOKEN_RED : TOKEN_BLUE)).toBeGreaterThan(0);
      expect(counts.get(red ? TOKEN_BLUE : TOKEN_RED)).toBeUndefined();
      expect(counts.get(STRIPES)).toBeGreaterThan(0);
      expect(counts.get(CHECKS)).toBeGreaterThan(0);
      if (red) reds++;
    }
    // Both colours, about equally often.
    expect(reds).toBeGreaterThan(6);
    expect(reds).toBeLessThan(18);
  });

  it('refuse a strip narrower than 4 times its height and an unknown layout, naming them', () => {
    expect(() => synthetic({ layout: 'strips', height: 64, width: 255 })).toThrow('synthetic dataset: strips must be at least 4 times as wide as high, got 64x255');
    expect(() => synthetic({ layout: 'rings' as 'strips' })).toThrow('synthetic dataset: layout must be \'scenes\' or \'strips\', got "rings"');
  });
});

describe("the 'context' preset's strips", () => {
  // What makes Table 6 a test of long-range context: in eval mode the baseline's logits over the tokens'
  // eighth are bit for bit the same whatever the cast, while an attention variant's (with a non-zero W;
  // the official zero W adds nothing at init) move with it.
  const config = train.preset(train.TABLE6_PRESET);
  const s = config.synthetic!;
  const strip = synthetic({ layout: 'strips', split: 'val', height: s.size, width: s.width, length: 1 }).sample(0);
  const w = strip.width;
  const castEnd = Math.round(STRIP_CAST * w);
  // The same strip with the cast's red and blue swapped.
  const swapped = { ...strip, image: Uint8Array.from(strip.image) };
  for (let p = 0; p < strip.height * w; p++)
    if (p % w < castEnd) [swapped.image[3 * p], swapped.image[3 * p + 2]] = [strip.image[3 * p + 2], strip.image[3 * p]];

  function tokenLogits(variant: models.ANNVariant, image: data.RawSample): Float32Array {
    using model = models.ANN({ ...config.model, numClasses: data.SYNTHETIC_CLASSES.length, variant, seed: 3 });
    for (const [name, p] of model.namedParameters()) if (name.endsWith('.W.weight')) nn.init.normal_(p, 0, 0.5);
    model.eval();
    const all = noGrad(() => {
      const x = data.toInputTensor([image]);
      const y: Tensor = model.call(x).main;
      const out = y.toFloat32Array();
      x.dispose();
      y.dispose();
      return out;
    });
    // Every class plane's columns from the tokens' eighth on.
    const keep: number[] = [];
    for (let i = 0; i < all.length; i++) if (i % w >= (7 * w) / 8) keep.push(all[i]);
    return Float32Array.from(keep);
  }

  it('keep the cue beyond the baseline: its token logits do not change with the cast', () => {
    const a = tokenLogits('baseline', strip);
    const b = tokenLogits('baseline', swapped);
    expect(a.length).toBe((strip.height * w * data.SYNTHETIC_CLASSES.length) / 8);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
  });

  it("but within an attention variant's reach", () => {
    for (const variant of ['apnb', 'afnb', 'full'] as const) {
      const a = tokenLogits(variant, strip);
      const b = tokenLogits(variant, swapped);
      let moved = 0;
      for (let i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i] - b[i]));
      expect(moved, variant).toBeGreaterThan(1e-3);
    }
  });
});
