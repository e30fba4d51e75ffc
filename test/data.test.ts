// lib/data: the synthetic scenes, the augmentation, the normalisation and the loader.
import { describe, expect, it } from 'vitest';

import { data, memory } from '../lib/index.js';
import { Generator } from '../lib/random.js';
import type { RawSample, SegDataset } from '../lib/data/index.js';

const { synthetic, SYNTHETIC_CLASSES, TOKEN_CLEARANCE, MAJORITY_MIN, MAJORITY_MAX, resample, drawAugment, resolveAugment, DataLoader, MEAN_BGR, MEAN_RGB_U8 } = data;
const [GROUND_RED, GROUND_BLUE, TOKEN_RED, TOKEN_BLUE] = [3, 4, 5, 6];
const isGround = (c: number) => c === 0 || c === GROUND_RED || c === GROUND_BLUE;

function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A [h, w] sample whose pixels encode their position, for checking where each output pixel came from. */
function gradientSample(h: number, w: number): RawSample {
  const image = new Uint8Array(h * w * 3);
  const label = new Uint8Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      image.set([x * 3, y * 3, (x + y) % 256], 3 * i);
      label[i] = (x + 2 * y) % 6;
    }
  return { image, label, height: h, width: w, name: 'gradient' };
}

describe('synthetic dataset', () => {
  it('is a pure function of (seed, split, index): same bytes again, other bytes for another seed, split or index', () => {
    const a = synthetic({ seed: 3 }).sample(5);
    const b = synthetic({ seed: 3, length: 10 }).sample(5);
    expect(sameBytes(a.image, b.image) && sameBytes(a.label, b.label)).toBe(true);
    expect(a.name).toBe('synthetic-train-3-5');
    expect(sameBytes(a.image, synthetic({ seed: 4 }).sample(5).image)).toBe(false);
    expect(sameBytes(a.image, synthetic({ seed: 3, split: 'val' }).sample(5).image)).toBe(false);
    expect(sameBytes(a.image, synthetic({ seed: 3 }).sample(6).image)).toBe(false);
  });

  it('draws any size, with labels in [0, 7) and every class present over a few scenes', () => {
    const ds = synthetic({ height: 40, width: 72, length: 12 });
    const seen = new Set<number>();
    for (let i = 0; i < ds.length; i++) {
      const s = ds.sample(i);
      expect([s.height, s.width, s.image.length, s.label.length]).toEqual([40, 72, 40 * 72 * 3, 40 * 72]);
      for (const v of s.label) seen.add(v);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(ds.classes).toEqual(SYNTHETIC_CLASSES);
    expect(ds.palette).toHaveLength(SYNTHETIC_CLASSES.length);
  });

  it('decides the tokens by the colour covering most of the tinted background, `majority` of it, with a grey halo round each token', () => {
    const ds = synthetic({ length: 16 });
    const w = ds.width;
    const halo = TOKEN_CLEARANCE * Math.min(ds.height, ds.width);
    let checked = 0;
    for (let i = 0; i < ds.length; i++) {
      const s = ds.sample(i);
      const tokens: number[] = [];
      const background: number[] = [];
      let [redArea, blueArea] = [0, 0];
      s.label.forEach((c, p) => {
        const cast = s.image[3 * p] - s.image[3 * p + 2];
        if (c === TOKEN_RED || c === TOKEN_BLUE) tokens.push(p);
        if (isGround(c)) {
          background.push(p);
          // Ground is labelled by its own tint: clearly one colour (tint 45 against noise of 10 shared by all channels), or grey.
          expect(c).toBe(cast > 0 ? GROUND_RED : cast < 0 ? GROUND_BLUE : 0);
          if (cast !== 0) expect(Math.abs(cast)).toBe(90);
          if (cast > 0) redArea++;
          if (cast < 0) blueArea++;
        }
      });
      expect(new Set(tokens.map((p) => s.label[p])).size).toBeLessThanOrEqual(1);
      if (tokens.length === 0) continue;
      const red = s.label[tokens[0]] === TOKEN_RED;
      const share = Math.max(redArea, blueArea) / (redArea + blueArea);
      expect(redArea > blueArea).toBe(red);
      // Blotches are whole, so the share lands within a blotch or so of the drawn fraction.
      expect(share).toBeGreaterThan(MAJORITY_MIN - 0.04);
      expect(share).toBeLessThan(MAJORITY_MAX + 0.04);
      const h = ds.height;
      const isToken = (x: number, y: number) => s.label[y * w + x] === TOKEN_RED || s.label[y * w + x] === TOKEN_BLUE;
      const reach = Math.ceil(halo);
      const near = (p: number) => {
        const [x, y] = [p % w, Math.floor(p / w)];
        for (let yy = Math.max(0, y - reach); yy <= Math.min(h - 1, y + reach); yy++)
          for (let xx = Math.max(0, x - reach); xx <= Math.min(w - 1, x + reach); xx++) if (Math.hypot(xx - x, yy - y) < halo && isToken(xx, yy)) return true;
        return false;
      };
      let [inHalo, tintedInHalo] = [0, 0];
      for (const p of background)
        if (near(p)) {
          inHalo++;
          if (s.image[3 * p] !== s.image[3 * p + 1] || s.image[3 * p + 2] !== s.image[3 * p + 1]) tintedInHalo++;
        }
      expect(inHalo).toBeGreaterThan(0);
      expect(tintedInHalo).toBe(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(12);
  }, 60000);

  it('hides the answer from a local window: the colour winning within 16 px of a token pixel is its class far less often than the whole scene says', () => {
    const ds = synthetic({ length: 60 });
    const { height: h, width: w } = ds;
    const r = 16;
    let [agree, total] = [0, 0];
    for (let i = 0; i < ds.length; i++) {
      const s = ds.sample(i);
      const vote = new Int8Array(h * w);
      s.label.forEach((c, p) => (vote[p] = isGround(c) ? Math.sign(s.image[3 * p] - s.image[3 * p + 2]) : 0));
      // Token pixels on a coarse grid: the windows of neighbouring pixels are nearly the same.
      for (let y = 0; y < h; y += 3)
        for (let x = 0; x < w; x += 3) {
          const c = s.label[y * w + x];
          if (c !== TOKEN_RED && c !== TOKEN_BLUE) continue;
          let v = 0;
          for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) v += vote[yy * w + xx];
          if ((c === TOKEN_RED ? v : -v) > 0) agree++;
          total++;
        }
    }
    expect(total).toBeGreaterThan(1000);
    // Measured: 64.8% (bench/data/cue-stats.ts, 100 scenes); chance alone would give 50%, the whole scene 100%.
    expect(agree / total).toBeLessThan(0.75);
    expect(agree / total).toBeGreaterThan(0.5);
  });

  it('draws both token classes about equally often', () => {
    const ds = synthetic({ length: 200 });
    let red = 0;
    for (let i = 0; i < ds.length; i++) if (ds.sample(i).label.includes(TOKEN_RED)) red++;
    expect(red).toBeGreaterThan(70);
    expect(red).toBeLessThan(130);
  });

  it('follows `tint` and `majority`', () => {
    const stats = (options: data.CueOptions) => {
      const ds = synthetic({ length: 12, ...options });
      const tints = new Set<number>();
      const shares: number[] = [];
      for (let i = 0; i < ds.length; i++) {
        const s = ds.sample(i);
        let [pos, neg] = [0, 0];
        s.label.forEach((c, p) => {
          if (!isGround(c)) return;
          const d = s.image[3 * p] - s.image[3 * p + 2];
          if (d > 0) pos++;
          if (d < 0) neg++;
          if (d !== 0) tints.add(Math.abs(d));
        });
        if (pos + neg > 0) shares.push(Math.max(pos, neg) / (pos + neg));
      }
      return { tints, shares };
    };
    // Unclipped pixels differ by exactly 2 x tint between red and blue channels.
    expect(Math.max(...stats({ tint: 20 }).tints)).toBe(40);
    expect(stats({ tint: 0 }).tints.size).toBe(0);
    for (const share of stats({ majority: [0.9, 0.9] }).shares) expect(Math.abs(share - 0.9)).toBeLessThan(0.03);
    expect(() => synthetic({ tint: -1 })).toThrow('synthetic dataset: tint must be a number in [0, 100], got -1');
    expect(() => synthetic({ majority: [0.4, 0.7] })).toThrow('synthetic dataset: majority must be [lo, hi] with 0.5 < lo <= hi <= 1, got [0.4,0.7]');
    expect(() => synthetic({ clump: 0 })).toThrow('synthetic dataset: clump must be a number in (0, 16], got 0');
  });

  it('caches drawn scenes (the same object again) without changing their bytes', () => {
    const cached = synthetic({ seed: 2 });
    const fresh = synthetic({ seed: 2, cache: false });
    expect(cached.sample(3)).toBe(cached.sample(3));
    expect(fresh.sample(3)).not.toBe(fresh.sample(3));
    expect(sameBytes(cached.sample(3).image, fresh.sample(3).image) && sameBytes(cached.sample(3).label, fresh.sample(3).label)).toBe(true);
  });

  it('refuses bad options and indices, naming them', async () => {
    expect(() => synthetic({ split: 'test' as 'val' })).toThrow("synthetic dataset: split must be 'train' or 'val', got \"test\"");
    expect(() => synthetic({ length: 0 })).toThrow('synthetic dataset: length must be an integer >= 1, got 0');
    expect(() => synthetic({ height: 16 })).toThrow('synthetic dataset: height must be an integer >= 32, got 16');
    expect(() => synthetic({ seed: -1 })).toThrow('synthetic dataset: seed must be an integer >= 0, got -1');
    expect(() => synthetic({ cache: 1 as unknown as boolean })).toThrow('synthetic dataset: cache must be true or false, got 1');
    const ds = synthetic({ length: 3 });
    expect(() => ds.sample(3)).toThrow('index 3 is out of range [0, 3)');
    await expect(ds.get(-1)).rejects.toThrow('index -1 is out of range [0, 3)');
  });
});

describe('augmentation', () => {
  const src = gradientSample(24, 32);
  const identity = { scale: 1, top: 0, left: 0, flip: false, shift: 0 };

  it('at scale 1, offset 0, no flip and no shift copies the window', () => {
    const out = resample(src, [10, 12], { ...identity, top: 5, left: 7 });
    for (let y = 0; y < 10; y++)
      for (let x = 0; x < 12; x++) {
        const o = y * 12 + x;
        const i = (y + 5) * 32 + x + 7;
        expect([...out.image.subarray(3 * o, 3 * o + 3), out.label[o]]).toEqual([...src.image.subarray(3 * i, 3 * i + 3), src.label[i]]);
      }
  });

  it('pads outside the scaled image with label 255 and the mean colour', () => {
    // Scale 0.5: 24x32 -> 12x16, placed at (3, 4) of a 20x20 window.
    const out = resample(src, [20, 20], { ...identity, scale: 0.5, top: -3, left: -4 });
    let padded = 0;
    for (let y = 0; y < 20; y++)
      for (let x = 0; x < 20; x++) {
        const o = y * 20 + x;
        const inside = y >= 3 && y < 15 && x >= 4 && x < 20;
        if (!inside) {
          padded++;
          expect(out.label[o]).toBe(255);
          expect([...out.image.subarray(3 * o, 3 * o + 3)]).toEqual([...MEAN_RGB_U8]);
        } else expect(out.label[o]).not.toBe(255);
      }
    expect(padded).toBe(400 - 12 * 16);
  });

  it('scales labels nearest-neighbour (scale 2 repeats each label 2x2) and images bilinearly', () => {
    const out = resample(src, [48, 64], { ...identity, scale: 2 });
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) expect(out.label[y * 64 + x]).toBe(src.label[(y >> 1) * 32 + (x >> 1)]);
    // Red is 3x: at output column 2x+1 it samples source x + 0.25, between 3x and 3x + 3.
    expect(out.image[3 * (10 * 64 + 21)]).toBe(Math.round(3 * 10.25));
    const labels = new Set(resample(src, [40, 40], { ...identity, scale: 1.37, top: 3, left: 2 }).label);
    for (const v of labels) expect(v < 6 || v === 255).toBe(true);
    expect(labels.has(255)).toBe(true);
  });

  it('flips image and label together', () => {
    const params = { ...identity, scale: 1.5, top: 2, left: 3 };
    const a = resample(src, [16, 20], params);
    const b = resample(src, [16, 20], { ...params, flip: true });
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 20; x++) {
        const o = y * 20 + x;
        const m = y * 20 + (19 - x);
        expect(b.label[o]).toBe(a.label[m]);
        expect([...b.image.subarray(3 * o, 3 * o + 3)]).toEqual([...a.image.subarray(3 * m, 3 * m + 3)]);
      }
  });

  it('shifts brightness of image pixels only, clipped to 0..255', () => {
    const bright = resample(src, [24, 32], { ...identity, shift: 9.6 });
    const dark = resample(src, [24, 32], { ...identity, shift: -9.6 });
    for (let i = 0; i < src.image.length; i++) {
      expect(bright.image[i]).toBe(Math.min(255, Math.round(src.image[i] + 9.6)));
      expect(dark.image[i]).toBe(Math.max(0, Math.round(src.image[i] - 9.6)));
    }
    expect(sameBytes(bright.label, src.label)).toBe(true);
  });

  it('draws scale, offsets, flip and shift within their ranges, reproducibly from the generator', () => {
    const opts = resolveAugment();
    const g = new Generator(11);
    const scales: number[] = [];
    let flips = 0;
    for (let i = 0; i < 400; i++) {
      const p = drawAugment(g, 96, 96, [64, 64], opts);
      scales.push(p.scale);
      flips += Number(p.flip);
      expect(Math.abs(p.shift)).toBeLessThanOrEqual(10);
      const size = Math.round(96 * p.scale);
      expect(p.top).toBeGreaterThanOrEqual(Math.min(0, size - 64));
      expect(p.top).toBeLessThanOrEqual(Math.max(0, size - 64));
    }
    expect(Math.min(...scales)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...scales)).toBeLessThan(2);
    expect(Math.min(...scales)).toBeLessThan(0.6);
    expect(Math.max(...scales)).toBeGreaterThan(1.9);
    expect(flips).toBeGreaterThan(150);
    expect(flips).toBeLessThan(250);
    expect(drawAugment(new Generator(5), 96, 96, [64, 64], opts)).toEqual(drawAugment(new Generator(5), 96, 96, [64, 64], opts));
    const off = drawAugment(new Generator(5), 96, 96, [64, 64], resolveAugment({ flip: false, brightness: 0, scale: [1, 1] }));
    expect([off.flip, off.shift, off.scale]).toEqual([false, 0, 1]);
  });

  it('refuses bad options, naming them', () => {
    expect(() => resolveAugment({ scale: [2, 1] })).toThrow('augment: scale must be [min, max] with 0 < min <= max, got [2,1]');
    expect(() => resolveAugment({ brightness: -1 })).toThrow('augment: brightness must be a number in [0, 255], got -1');
    expect(() => resolveAugment({ flip: 1 as unknown as boolean })).toThrow('augment: flip must be true or false, got 1');
    expect(() => resolveAugment({ rotate: 3 } as object)).toThrow("augment: unknown option 'rotate'");
  });
});

describe('normalisation', () => {
  it('gives BGR planes minus the official mean, and int32 labels', () => {
    const s: RawSample = { image: Uint8Array.from([10, 20, 30, 255, 0, 128]), label: Uint8Array.from([3, 255]), height: 1, width: 2, name: 'x' };
    const x = data.toInputTensor([s, s]);
    const y = data.toLabelTensor([s, s]);
    expect([x.shape, x.dtype, y.shape, y.dtype]).toEqual([[2, 3, 1, 2], 'float32', [2, 1, 2], 'int32']);
    const v = x.toFloat32Array();
    const [b, g, r] = MEAN_BGR;
    expect([...v.subarray(0, 6)]).toEqual([...Float32Array.from([30 - b, 128 - b, 20 - g, 0 - g, 10 - r, 255 - r])]);
    expect([...v.subarray(6, 12)]).toEqual([...v.subarray(0, 6)]);
    expect([...y.toInt32Array()]).toEqual([3, 255, 3, 255]);
    expect([...data.denormalize(v.subarray(0, 6), 1, 2)]).toEqual([...s.image]);
    x.dispose();
    y.dispose();
  });

  it('refuses samples of different sizes, naming them', () => {
    const a = synthetic({ height: 32, width: 32 }).sample(0);
    const b = synthetic({ height: 32, width: 40 }).sample(0);
    expect(() => data.toInputTensor([a, b])).toThrow('toInputTensor: samples differ in size (synthetic-train-0-0 is 32x32, synthetic-train-0-0 is 32x40)');
    expect(() => data.toLabelTensor([])).toThrow('toLabelTensor: no samples');
  });
});

describe('DataLoader', () => {
  const ds = synthetic({ length: 10, height: 48, width: 40 });

  it('gives float32 [B, 3, H, W] images normalised as toInputTensor, int32 labels, names and the batch index', async () => {
    const plain = new DataLoader(ds, { batchSize: 4, augment: false, shuffle: false });
    const b = await plain.next();
    expect([b.image.shape, b.image.dtype, b.label.shape, b.label.dtype, b.index]).toEqual([[4, 3, 48, 40], 'float32', [4, 48, 40], 'int32', 0]);
    const samples = [0, 1, 2, 3].map((i) => ds.sample(i));
    const x = data.toInputTensor(samples);
    const y = data.toLabelTensor(samples);
    expect(sameBytes(b.image.toFloat32Array(), x.toFloat32Array())).toBe(true);
    expect(sameBytes(b.label.toInt32Array(), y.toInt32Array())).toBe(true);
    expect(b.names).toEqual(samples.map((s) => s.name));
    expect(b.waitMs).toBeGreaterThanOrEqual(0);
    for (const t of [x, y]) t.dispose();
    b.dispose();
    await plain.close();

    const aug = new DataLoader(ds, { batchSize: 3, crop: [32, 24], seed: 2 });
    const c = await aug.next();
    expect([c.image.shape, c.label.shape]).toEqual([
      [3, 3, 32, 24],
      [3, 32, 24],
    ]);
    // Every value is an 8-bit level minus the mean of its channel.
    const v = c.image.toFloat32Array();
    const plane = 32 * 24;
    for (let i = 0; i < v.length; i++) {
      const level = v[i] + MEAN_BGR[Math.floor(i / plane) % 3];
      expect(Math.abs(level - Math.round(level))).toBeLessThan(1e-3);
    }
    for (const l of c.label.toInt32Array()) expect(l < 7 || l === 255).toBe(true);
    c.dispose();
    await aug.close();
  });

  it('centre-crops without augmentation', async () => {
    const loader = new DataLoader(ds, { batchSize: 1, crop: 32, augment: false, shuffle: false });
    const b = await loader.next();
    const s = ds.sample(0);
    const label = b.label.toInt32Array();
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) expect(label[y * 32 + x]).toBe(s.label[(y + 8) * 40 + x + 4]);
    b.dispose();
    await loader.close();
  });

  it('visits every example once per epoch, in a new order each epoch and for each seed', async () => {
    const loader = new DataLoader(ds, { batchSize: 5, crop: 32, seed: 1 });
    const epochs = [0, 1, 2].map((e) => [...loader.indicesOf(2 * e), ...loader.indicesOf(2 * e + 1)]);
    for (const order of epochs) expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(new DataLoader(ds, { batchSize: 5, crop: 32, seed: 2 }).indicesOf(0)).not.toEqual(loader.indicesOf(0));
    // A batch that runs over the end of an epoch continues with the next epoch's order.
    const odd = new DataLoader(ds, { batchSize: 4, crop: 32, seed: 1 });
    expect(odd.indicesOf(2)).toEqual([...epochs[0].slice(8), ...epochs[1].slice(0, 2)]);
    await loader.close();
  });

  it('resumes at batch k with the same bytes as an uninterrupted run, and another seed changes them', async () => {
    const full = new DataLoader(ds, { batchSize: 3, crop: 32, seed: 7, prefetch: 1 });
    const seen: { image: Float32Array; label: Int32Array; names: string[] }[] = [];
    for (let k = 0; k < 6; k++) {
      const b = await full.next();
      seen.push({ image: b.image.toFloat32Array(), label: b.label.toInt32Array(), names: b.names });
      b.dispose();
    }
    await full.close();
    const resumed = new DataLoader(ds, { batchSize: 3, crop: 32, seed: 7, prefetch: 3, startBatch: 4 });
    for (const k of [4, 5]) {
      const b = await resumed.next();
      expect(b.index).toBe(k);
      expect(b.names).toEqual(seen[k].names);
      expect(sameBytes(b.image.toFloat32Array(), seen[k].image)).toBe(true);
      expect(sameBytes(b.label.toInt32Array(), seen[k].label)).toBe(true);
      b.dispose();
    }
    await resumed.close();
    const other = new DataLoader(ds, { batchSize: 3, crop: 32, seed: 8 });
    const o = await other.next();
    expect(sameBytes(o.image.toFloat32Array(), seen[0].image)).toBe(false);
    o.dispose();
    await other.close();
  });

  it('leaves no tensors behind once batches are disposed, and refuses next() after close()', async () => {
    const before = memory().numTensors;
    const loader = new DataLoader(ds, { batchSize: 2, crop: 32, prefetch: 2 });
    for (let k = 0; k < 3; k++) (await loader.next()).dispose();
    await loader.close();
    expect(memory().numTensors).toBe(before);
    expect(loader.waits).toHaveLength(3);
    await expect(loader.next()).rejects.toThrow('next() after close()');
  });

  it("reports a dataset's error from next(), not as an unhandled rejection", async () => {
    const broken: SegDataset = {
      name: 'broken',
      length: 4,
      classes: ['a'],
      palette: [[0, 0, 0]],
      get: (i) => (i === 2 ? Promise.reject(new Error('/data/x.png: cannot read image')) : ds.get(i)),
    };
    const loader = new DataLoader(broken, { batchSize: 2, crop: 32, shuffle: false, prefetch: 2 });
    (await loader.next()).dispose();
    await expect(loader.next()).rejects.toThrow('/data/x.png: cannot read image');
    await loader.close();
  });

  it('refuses bad options, naming them', () => {
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow('DataLoader: batchSize must be an integer >= 1, got 0');
    expect(() => new DataLoader(ds, { batchSize: 2, crop: [32] as unknown as number })).toThrow('DataLoader: crop must be a positive integer or [height, width], got [32]');
    expect(() => new DataLoader(ds, { batchSize: 2 })).toThrow('DataLoader: augmentation needs a crop size');
    expect(() => new DataLoader(ds, { batchSize: 2, crop: 8, shuffle: 'yes' as unknown as boolean })).toThrow('DataLoader: shuffle must be true or false');
    expect(() => new DataLoader(ds, { batchSize: 2, crop: 8, startBatch: -1 })).toThrow('DataLoader: startBatch must be an integer >= 0, got -1');
    expect(() => new DataLoader(ds, { batchSize: 2, crop: 8, workers: 2 } as object as { batchSize: number })).toThrow("DataLoader: unknown option 'workers'");
    expect(() => new DataLoader(ds, { batchSize: 2, crop: 8, augment: { scale: [0, 1] } })).toThrow('augment: scale must be [min, max]');
  });

  it('refuses a batch of different sizes without a crop, naming both examples', async () => {
    const mixed: SegDataset = {
      name: 'mixed',
      length: 2,
      classes: ds.classes,
      palette: ds.palette,
      get: (i) => Promise.resolve(synthetic({ height: 32, width: i === 0 ? 32 : 40 }).sample(0)),
    };
    const loader = new DataLoader(mixed, { batchSize: 2, augment: false, shuffle: false });
    await expect(loader.next()).rejects.toThrow('DataLoader: synthetic-train-0-0 is 32x40 but synthetic-train-0-0 is 32x32; give a crop size');
    await loader.close();
  });
});
