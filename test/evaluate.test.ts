// Inference (whole, slide, flip, scales) and evaluate() on tiny models and tiny datasets.
import { describe, expect, it } from 'vitest';

import { resample, scaledSize } from '../lib/data/augment.js';
import { MEAN_BGR, toInputTensor } from '../lib/data/normalize.js';
import { synthetic, SYNTHETIC_CLASSES } from '../lib/data/synthetic.js';
import type { RawSample, SegDataset } from '../lib/data/types.js';
import { memory, models, nn, tensor, tidy, noGrad, F, type Tensor } from '../lib/index.js';
import { evaluate } from '../lib/train/evaluate.js';
import { argmaxClasses, predictLogits, predictMask, resolveInference, windowStarts } from '../lib/train/inference.js';

/**
 * A per-pixel model: a 1x1 conv whose class-c logit is -(red - STEP*c)^2 up to a term common to
 * all classes, so it predicts the class whose red level is nearest the pixel's. Being pointwise,
 * it is mirror-equivariant and blind to where a window is cut.
 */
const STEP = 40;
class RedLevels extends nn.Module<[Tensor], { main: Tensor }> {
  readonly conv: nn.Conv2d;
  constructor(readonly numClasses: number) {
    super();
    this.conv = this.registerModule('conv', new nn.Conv2d({ inChannels: 3, outChannels: numClasses, kernelSize: 1 }));
    const w = new Float32Array(numClasses * 3);
    const b = new Float32Array(numClasses);
    for (let c = 0; c < numClasses; c++) {
      // Input channel 2 is R - MEAN_BGR[2]; -(r - s)^2 = -r^2 + 2 s r - s^2.
      const s = STEP * c;
      w[c * 3 + 2] = 2 * s;
      b[c] = 2 * s * MEAN_BGR[2] - s * s;
    }
    using wt = tensor(w, [numClasses, 3, 1, 1]);
    using bt = tensor(b, [numClasses]);
    this.conv.loadStateDict({ weight: wt, bias: bt });
  }
  forward(x: Tensor) {
    return { main: this.conv.call(x) };
  }
}

/** An image whose red level encodes `classes[y][x]` (STEP per class), with noise in green and blue. */
function levelsSample(name: string, classes: number[][], label?: number[][]): RawSample {
  const h = classes.length;
  const w = classes[0].length;
  const image = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      image[i] = STEP * classes[y][x] + 3;
      image[i + 1] = (x * 37 + y * 11) % 256;
      image[i + 2] = (x * 5 + y * 71) % 256;
    }
  return { name, height: h, width: w, image, label: Uint8Array.from((label ?? classes).flat()) };
}

function dataset(samples: RawSample[], classes: string[]): SegDataset {
  return {
    name: 'fake',
    length: samples.length,
    classes,
    palette: classes.map(() => [0, 0, 0] as const),
    get: (i) => Promise.resolve(samples[i]),
  };
}

const grid = (h: number, w: number, f: (y: number, x: number) => number) => Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => f(y, x)));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function mirror(s: RawSample): RawSample {
  return { ...resample(s, [s.height, s.width], { scale: 1, top: 0, left: 0, flip: true, shift: 0 }), name: `${s.name}-mirrored` };
}

/** The embedded dataset's class count. */
const K = SYNTHETIC_CLASSES.length;
const tinyANN = () =>
  models.ANN({ depth: 18, width: 0.0625, numClasses: K, keyChannels: 8, valueChannels: 8, contextChannels: 16, auxChannels: 8, seed: 3 });

describe('window placement', () => {
  it('every stride, plus one window flush with the end; a short side is one window', () => {
    expect(windowStarts(10, 4, 3)).toEqual([0, 3, 6]);
    expect(windowStarts(11, 4, 3)).toEqual([0, 3, 6, 7]);
    expect(windowStarts(8, 8, 5)).toEqual([0]);
    expect(windowStarts(5, 8, 5)).toEqual([0]);
    expect(windowStarts(20, 8, 8)).toEqual([0, 8, 12]);
  });

  it('options are checked, naming the bad one', () => {
    expect(resolveInference({ mode: 'slide', crop: 48 }).stride).toEqual([32, 32]);
    expect(() => resolveInference({ mode: 'slide' })).toThrow(/'slide' needs a crop/);
    expect(() => resolveInference({ mode: 'slide', crop: 32, stride: 40 })).toThrow(/stride \[40,40\] is larger than the crop/);
    expect(() => resolveInference({ mode: 'slide', crop: 4 })).toThrow(/crop must be an integer >= 8/);
    expect(() => resolveInference({ crop: 32 })).toThrow(/crop and stride go with mode 'slide'/);
    expect(() => resolveInference({ scales: [] })).toThrow(/scales must be a non-empty list/);
    expect(() => resolveInference({ scales: [1, -0.5] })).toThrow(/scales/);
    expect(() => resolveInference({ mode: 'tiles' as 'whole' })).toThrow(/mode must be 'whole' or 'slide'/);
    expect(() => resolveInference({ flips: true } as object)).toThrow(/unknown option 'flips'/);
  });
});

describe('inference', () => {
  const scene = synthetic({ split: 'val', length: 2, height: 40, width: 48 }).sample(0);

  it('slide with one window covering the image equals whole-image inference', () => {
    using model = tinyANN();
    const whole = predictLogits(model, scene);
    expect([whole.numClasses, whole.height, whole.width]).toEqual([K, 40, 48]);
    const exact = predictLogits(model, scene, { mode: 'slide', crop: [40, 48] });
    expect(maxAbsDiff(exact.logits, whole.logits)).toBe(0);
    // A window larger than the image is cut to it (no padding): still the whole image.
    const larger = predictLogits(model, scene, { mode: 'slide', crop: 64 });
    expect(maxAbsDiff(larger.logits, whole.logits)).toBe(0);
  });

  it('overlapping windows average per pixel: a pointwise model gives the whole-image logits', () => {
    using model = new RedLevels(5);
    const s = levelsSample('levels', grid(21, 30, (y, x) => (x * 3 + y) % 5));
    const whole = predictLogits(model, s);
    // Windows at rows 0, 6, 12, 13 and columns 0, 6, 12, 18, 22: up to 4 x 4 overlaps per pixel.
    const slid = predictLogits(model, s, { mode: 'slide', crop: 8, stride: 6 });
    // Logits reach ~5e4 here; averaging up to 16 float32 copies of a value rounds within a few ulp.
    const scale = whole.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(slid.logits, whole.logits) / scale).toBeLessThan(1e-6);
    expect(Array.from(argmaxClasses(slid))).toEqual(Array.from(s.label));
  });

  it('windows of a real network differ from the whole image where context differs, and are averaged', () => {
    using model = tinyANN();
    const whole = predictLogits(model, scene);
    const slid = predictLogits(model, scene, { mode: 'slide', crop: 32, stride: 16 });
    expect(maxAbsDiff(slid.logits, whole.logits)).toBeGreaterThan(1e-4);
    // Windows start at rows 0, 8 and columns 0, 16: rows 0..7 x columns 0..15 lie in window (0, 0)
    // alone, where the logits are that crop's.
    const crop = { ...resample(scene, [32, 32], { scale: 1, top: 0, left: 0, flip: false, shift: 0 }), name: 'corner' };
    const corner = predictLogits(model, crop);
    for (let c = 0; c < K; c++)
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 16; x++)
          expect(slid.logits[(c * 40 + y) * 48 + x]).toBe(corner.logits[(c * 32 + y) * 32 + x]);
    // Rows 8..31 of columns 0..15 lie in windows (0, 0) and (8, 0): the mean of the two.
    const lower = predictLogits(model, { ...resample(scene, [32, 32], { scale: 1, top: 8, left: 0, flip: false, shift: 0 }), name: 'lower' });
    let worst = 0;
    for (let c = 0; c < K; c++)
      for (let y = 8; y < 32; y++)
        for (let x = 0; x < 16; x++) {
          const mean = (corner.logits[(c * 32 + y) * 32 + x] + lower.logits[(c * 32 + y - 8) * 32 + x]) / 2;
          worst = Math.max(worst, Math.abs(slid.logits[(c * 40 + y) * 48 + x] - mean));
        }
    expect(worst).toBeLessThan(1e-6);
  });

  it('flip averages the logits with the un-mirrored logits of the mirrored image', () => {
    using model = tinyANN();
    const plain = predictLogits(model, scene);
    const flipped = predictLogits(model, scene, { flip: true });
    const ofMirror = predictLogits(model, mirror(scene));
    const { height: h, width: w } = scene;
    let worst = 0;
    for (let c = 0; c < K; c++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const i = (c * h + y) * w + x;
          const expected = (plain.logits[i] + ofMirror.logits[(c * h + y) * w + (w - 1 - x)]) / 2;
          worst = Math.max(worst, Math.abs(flipped.logits[i] - expected));
        }
    expect(worst).toBeLessThan(1e-5);
    expect(maxAbsDiff(flipped.logits, plain.logits)).toBeGreaterThan(1e-4);
  });

  it('flip changes nothing for a mirror-equivariant model', () => {
    using model = new RedLevels(5);
    const s = levelsSample('levels', grid(12, 17, (y, x) => (x + 2 * y) % 5));
    expect(maxAbsDiff(predictLogits(model, s, { flip: true }).logits, predictLogits(model, s).logits)).toBeLessThan(1e-3);
  });

  it('scales [1] is plain inference; other scales resize the image, infer, and resize the logits back bilinearly', () => {
    using model = tinyANN();
    const plain = predictLogits(model, scene);
    expect(maxAbsDiff(predictLogits(model, scene, { scales: [1] }).logits, plain.logits)).toBe(0);
    const ms = predictLogits(model, scene, { scales: [1, 0.5] });
    // By hand: the image resampled to half size, the network's logits there, resized back.
    const size = scaledSize(40, 48, 0.5);
    const small = resample(scene, size, { scale: 0.5, top: 0, left: 0, flip: false, shift: 0 });
    model.eval();
    const half = noGrad(() =>
      tidy(() => F.interpolate(model.call(toInputTensor([small])).main, { size: [40, 48], alignCorners: false }).toFloat32Array()),
    );
    let worst = 0;
    for (let i = 0; i < ms.logits.length; i++) worst = Math.max(worst, Math.abs(ms.logits[i] - (plain.logits[i] + half[i]) / 2));
    expect(worst).toBeLessThan(1e-5);
  });

  it('a scale that shrinks the image below the output stride is an error naming it', () => {
    using model = tinyANN();
    expect(() => predictLogits(model, scene, { scales: [0.1] })).toThrow(/at scale 0\.1 is 4x5, smaller than the network's output stride 8/);
  });

  it('runs in eval mode without gradients, restores the mode and frees every tensor it makes', () => {
    using model = tinyANN();
    model.train();
    const base = memory().numTensors;
    const a = predictMask(model, scene, { mode: 'slide', crop: 32, flip: true, scales: [0.75, 1] });
    expect(model.training).toBe(true);
    expect(memory().numTensors).toBe(base);
    // Eval mode: dropout off, so the same input gives the same answer.
    expect(Array.from(predictMask(model, scene, { mode: 'slide', crop: 32, flip: true, scales: [0.75, 1] }))).toEqual(Array.from(a));
  });
});

describe('evaluate', () => {
  const classes = ['c0', 'c1', 'c2', 'c3'];
  const a = levelsSample('a', grid(10, 12, (y, x) => (x < 6 ? 0 : 1)));
  const b = levelsSample('b', grid(10, 12, (y) => (y < 5 ? 2 : 3)));

  it('a perfect model scores 1 everywhere', async () => {
    using model = new RedLevels(4);
    const r = await evaluate(model, dataset([a, b], classes));
    expect(r.miou).toBe(1);
    expect(r.pixelAccuracy).toBe(1);
    expect(r.iou).toEqual([1, 1, 1, 1]);
    expect(r.classes).toEqual(classes);
    expect(r.images).toBe(2);
    expect(r.confusion.total).toBe(240);
  });

  it('counts every image into one confusion matrix: IoU as computed by hand, 255 skipped', async () => {
    using model = new RedLevels(4);
    // Image a's truth: left half class 0 but its first column marked 1 (10 wrong pixels), and the
    // last column ignored. The model predicts 0 on the left, 1 on the right.
    const truthA = grid(10, 12, (y, x) => (x === 11 ? 255 : x === 0 ? 1 : x < 6 ? 0 : 1));
    const wrongA = levelsSample('a', grid(10, 12, (y, x) => (x < 6 ? 0 : 1)), truthA);
    const r = await evaluate(model, dataset([wrongA, b], classes), { mode: 'slide', crop: 8, stride: 4, flip: true });
    // Class 0: TP 50, FN 0, FP 10 -> 50/60. Class 1: TP 50 (cols 6..10), FN 10 (col 0) -> 50/60.
    expect(r.iou[0]).toBeCloseTo(50 / 60, 12);
    expect(r.iou[1]).toBeCloseTo(50 / 60, 12);
    expect(r.iou[2]).toBe(1);
    expect(r.iou[3]).toBe(1);
    expect(r.pixelAccuracy).toBeCloseTo(220 / 230, 12);
    expect(r.confusion.toRows()[1][0]).toBe(10);
  });

  it('reports progress, honours limit, and leaves the model in the mode it was in', async () => {
    using model = new RedLevels(4);
    model.train();
    const seen: string[] = [];
    const r = await evaluate(model, dataset([a, b, a], classes), { limit: 2, onProgress: (done, total, name) => seen.push(`${done}/${total} ${name}`) });
    expect(seen).toEqual(['1/2 a', '2/2 b']);
    expect(r.images).toBe(2);
    expect(model.training).toBe(true);
  });

  it('a model with another class count, or labels outside the classes, is an error naming them', async () => {
    using model = new RedLevels(3);
    await expect(evaluate(model, dataset([a], classes))).rejects.toThrow(/model predicts 3 classes, but fake has 4 \(c0, c1, c2, c3\)/);
    using four = new RedLevels(4);
    const bad = levelsSample('bad-labels', grid(10, 12, () => 0), grid(10, 12, (y, x) => (x === 3 ? 9 : 0)));
    await expect(evaluate(four, dataset([a, bad], classes))).rejects.toThrow(/fake: bad-labels.*label ids 9 are outside the 4 classes/);
    const failing: SegDataset = { ...dataset([a, b], classes), get: (i) => (i === 1 ? Promise.reject(new Error('b.png: unreadable')) : Promise.resolve(a)) };
    await expect(evaluate(four, failing)).rejects.toThrow(/b\.png: unreadable/);
    await expect(evaluate(four, dataset([a], classes), { limit: 0 })).rejects.toThrow(/limit must be a positive integer/);
  });

  it('evaluates a tiny ANN on the embedded val split in whole and slide mode, memory flat', async () => {
    using model = tinyANN();
    const val = synthetic({ split: 'val', length: 3, height: 40, width: 40 });
    const base = memory().numTensors;
    const whole = await evaluate(model, val);
    const slide = await evaluate(model, val, { mode: 'slide', crop: 32, stride: 16 });
    expect(memory().numTensors).toBe(base);
    for (const r of [whole, slide]) {
      expect(r.classes).toEqual([...SYNTHETIC_CLASSES]);
      expect(r.miou).toBeGreaterThanOrEqual(0);
      expect(r.miou).toBeLessThanOrEqual(1);
      expect(r.confusion.total).toBe(3 * 40 * 40 - countIgnored(val, 3));
    }
  });
});

function countIgnored(val: ReturnType<typeof synthetic>, n: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) for (const v of val.sample(i).label) if (v === 255) k++;
  return k;
}
