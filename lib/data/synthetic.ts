// The embedded dataset: scenes drawn from a seed, where one pair of classes is decided by the whole
// image and the others by local appearance. It stands in for Cityscapes on a CPU: small, free,
// deterministic. Whether it separates the paper's Table 6 rows is measured, not assumed: see
// bench/data/RESULTS.md and bench/ablation/table6.md.
//
// A scene's background is a mosaic of Voronoi blotches (grey levels 70..160, pixel noise), each tinted
// clearly red or clearly blue (`tint` levels on the red-blue axis). Which blotches are red follows a
// smooth random field thresholded so that one colour covers a fraction `majority` (drawn per scene
// from [MAJORITY_MIN, MAJORITY_MAX]) of the tinted area: the colours come in large clumps, so the
// colour next to any one spot says little about which colour wins overall.
//   background   the mosaic
//   stripes      a disc or square of high-contrast stripes                      -> local texture
//   checks       a disc or square of a checkerboard                             -> local texture
//   token-red    plain bright discs or squares with a dark rim, where red covers more of the scene
//   token-blue   the same objects where blue does                               -> the whole image
// Around each token a halo TOKEN_CLEARANCE x min(H, W) wide stays grey, so a token and its nearest
// surroundings look the same in both kinds of scene. Telling token-red from token-blue takes an
// area count over the whole image: the average that APNB's and AFNB's pooled anchors (the 1 x 1 level
// above all) hand every pixel in one step, and that a stack of convolutions, weighting what is near
// most, has to learn to build. The clumps are small against a training crop, so a random scale and
// crop keeps the majority in most crops (test/data.test.ts measures how often).
import { Generator } from '../random.js';
import { generatorAt, randInt, randUniform, STREAM } from './seed.js';
import { BACKGROUND, Canvas, CHECKS, GROUND_BLUE, GROUND_RED, noise, paintObject, place, STRIPES, TOKEN_BLUE, TOKEN_RED, type Shape } from './scene-paint.js';
import { STRIP_DEFAULT_ASPECT, STRIP_MIN_ASPECT, syntheticStrip } from './synthetic-strip.js';
import type { RawSample, RGB, SegDataset } from './types.js';

export const SYNTHETIC_CLASSES = ['background', 'stripes', 'checks', 'ground-red', 'ground-blue', 'token-red', 'token-blue'] as const;

export const SYNTHETIC_PALETTE: readonly RGB[] = [
  [40, 40, 40],
  [255, 200, 0],
  [0, 190, 120],
  [150, 0, 0],
  [0, 0, 150],
  [240, 70, 70],
  [50, 110, 240],
];

/** The width of the grey halo around each token, free of tint, as a fraction of min(H, W). */
export const TOKEN_CLEARANCE = 0.1;

/** The range a scene's majority fraction (of the tinted area, in the winning colour) is drawn from. */
export const MAJORITY_MIN = 0.62;
export const MAJORITY_MAX = 0.8;

/** How strongly a blotch is tinted, in 8-bit levels on the red-blue axis. */
export const DEFAULT_TINT = 45;

/** The spatial frequency of the field that clumps the colours, in cycles per min(H, W). */
export const DEFAULT_CLUMP = 1.6;

/** The colour cue's strength: tint and how lopsided and clumped the colours are. */
export interface CueOptions {
  /** Tint of a blotch, in 8-bit levels on the red-blue axis (default DEFAULT_TINT). */
  tint?: number;
  /** [lo, hi]: each scene's majority fraction is uniform in it (default [MAJORITY_MIN, MAJORITY_MAX]). */
  majority?: readonly [number, number];
  /** Frequency of the clumping field in cycles per min(H, W) (default DEFAULT_CLUMP); higher is finer. */
  clump?: number;
}

/**
 * 'scenes' (default): the mosaic scenes above, 96 x 96 by default. 'strips': synthetic-strip.ts, a colour
 * cast at one end of a wide strip deciding the tokens at the other, 64 x 512 by default.
 */
export type SyntheticLayout = 'scenes' | 'strips';

export interface SyntheticOptions extends CueOptions {
  layout?: SyntheticLayout;
  /** Scenes are a pure function of (seed, split, index). Default 0. */
  seed?: number;
  /** 'train' and 'val' draw from different streams of the same seed. Default 'train'. */
  split?: 'train' | 'val';
  /** Number of scenes; default 2000 for train, 200 for val. */
  length?: number;
  /** Scene size; default 96 x 96, strips 64 high and 8 times as wide (at least 32 each; strips at least 4 times as wide as high). */
  height?: number;
  width?: number;
  /**
   * Keep drawn scenes in memory (default true): from the second epoch on a scene costs nothing.
   * 2000 scenes of 96 x 96 hold 74 MB.
   */
  cache?: boolean;
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`synthetic dataset: ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

/** A smooth random field: a few plane waves of `clump` cycles per m in random directions. */
function clumpField(g: Generator, m: number, clump: number): (x: number, y: number) => number {
  const waves = Array.from({ length: 4 }, () => {
    const angle = g.uniform() * 2 * Math.PI;
    const k = (2 * Math.PI * clump * randUniform(g, 0.75, 1.25)) / m;
    return { kx: k * Math.cos(angle), ky: k * Math.sin(angle), phase: g.uniform() * 2 * Math.PI };
  });
  return (x, y) => waves.reduce((s, w) => s + Math.cos(w.kx * x + w.ky * y + w.phase), 0);
}

/**
 * The mosaic: Voronoi blotches on a jittered grid (each pixel looks at the 3 x 3 cells around its
 * own), grey levels 70..160. Blotches are ranked by the clumping field at their seed point and the
 * top ones, by tinted area, turn the winning colour until it covers `majority` of the tinted area;
 * pixels `neutral` marks (the halo around tokens) stay grey and do not count.
 */
function paintBackground(c: Canvas, g: Generator, m: number, sign: number, neutral: Uint8Array, tint: number, majority: number, clump: number): void {
  const cell = Math.max(4, Math.round(m / 12));
  // One ring of cells beyond the image on every side, so the 3 x 3 search needs no bounds checks.
  const gw = Math.ceil(c.width / cell) + 2;
  const gh = Math.ceil(c.height / cell) + 2;
  const sx = new Float64Array(gw * gh);
  const sy = new Float64Array(gw * gh);
  const level = new Float64Array(gw * gh);
  const rank = new Float64Array(gw * gh);
  const field = clumpField(g, m, clump);
  for (let j = 0; j < gh; j++)
    for (let i = 0; i < gw; i++) {
      const k = j * gw + i;
      sx[k] = (i - 1 + g.uniform()) * cell;
      sy[k] = (j - 1 + g.uniform()) * cell;
      level[k] = randUniform(g, 70, 160);
      rank[k] = field(sx[k], sy[k]);
    }
  const owner = new Int32Array(c.height * c.width);
  const area = new Float64Array(gw * gh);
  for (let y = 0; y < c.height; y++) {
    const cj = Math.floor(y / cell) + 1;
    const py = y + 0.5;
    for (let x = 0; x < c.width; x++) {
      const ci = Math.floor(x / cell) + 1;
      const px = x + 0.5;
      let best = Infinity;
      let nearest = 0;
      for (let j = cj - 1; j <= cj + 1; j++)
        for (let k = j * gw + ci - 1, end = k + 3; k < end; k++) {
          const dx = px - sx[k];
          const dy = py - sy[k];
          const d = dx * dx + dy * dy;
          if (d < best) {
            best = d;
            nearest = k;
          }
        }
      owner[y * c.width + x] = nearest;
      if (!neutral[y * c.width + x]) area[nearest]++;
    }
  }
  const order = Array.from(rank.keys()).sort((a, b) => rank[b] - rank[a] || a - b);
  const total = area.reduce((s, v) => s + v, 0);
  const winning = new Uint8Array(gw * gh);
  // Stop at the blotch that brings the winning share closest to `majority`.
  let covered = 0;
  for (const k of order) {
    if (area[k] === 0) continue;
    if (Math.abs(covered + area[k] - majority * total) > Math.abs(covered - majority * total)) break;
    winning[k] = 1;
    covered += area[k];
  }
  for (let p = 0; p < owner.length; p++) {
    const k = owner[p];
    const n = level[k] + noise(g, 10);
    const t = neutral[p] ? 0 : winning[k] ? sign * tint : -sign * tint;
    c.put(p, n + t, n, n - t, t === 0 ? BACKGROUND : t > 0 ? GROUND_RED : GROUND_BLUE);
  }
}

/** Scene `index` of the stream for (seed, split): a pure function of its arguments. */
export function syntheticScene(
  seed: number,
  split: 'train' | 'val',
  index: number,
  height: number,
  width: number,
  { tint = DEFAULT_TINT, majority = [MAJORITY_MIN, MAJORITY_MAX], clump = DEFAULT_CLUMP }: CueOptions = {},
): RawSample {
  const g = generatorAt(seed, split === 'train' ? STREAM.trainScenes : STREAM.valScenes, index);
  const c = new Canvas(height, width);
  const m = Math.min(height, width);
  const red = g.uniform() < 0.5;
  const share = randUniform(g, majority[0], majority[1]);

  const placed: Shape[] = [];
  const objects: { shape: Shape; cls: number }[] = [];
  const kinds = [
    ...Array<number>(randInt(g, 2, 3)).fill(TOKEN_RED),
    ...Array<number>(randInt(g, 1, 2)).fill(STRIPES),
    ...Array<number>(randInt(g, 1, 2)).fill(CHECKS),
  ];
  for (const cls of kinds) {
    const s = place(g, c, placed, randUniform(g, 0.08, 0.13) * m, 2);
    if (!s) continue;
    placed.push(s);
    objects.push({ shape: s, cls });
  }
  const neutral = new Uint8Array(height * width);
  for (const o of objects) c.fill(o.shape, (i) => (neutral[i] = 1), o.cls === TOKEN_RED ? TOKEN_CLEARANCE * m : 0);
  paintBackground(c, g, m, red ? 1 : -1, neutral, tint, share, clump);

  const period = Math.max(4, Math.round(0.07 * m));
  for (const { shape, cls } of objects) paintObject(c, g, shape, cls === TOKEN_RED ? (red ? TOKEN_RED : TOKEN_BLUE) : cls, period);
  return { image: c.image, label: c.label, height, width, name: `synthetic-${split}-${seed}-${index}` };
}

/** The embedded dataset as a SegDataset; scenes are drawn when asked for (no files). */
export class SyntheticDataset implements SegDataset {
  readonly name: string;
  readonly length: number;
  readonly classes = SYNTHETIC_CLASSES;
  readonly palette = SYNTHETIC_PALETTE;
  readonly seed: number;
  readonly split: 'train' | 'val';
  readonly height: number;
  readonly width: number;
  readonly cue: Required<CueOptions>;
  readonly layout: SyntheticLayout;
  readonly #cache: Map<number, RawSample> | null;

  constructor({
    layout = 'scenes',
    seed = 0,
    split = 'train',
    length,
    height = layout === 'strips' ? 64 : 96,
    width = layout === 'strips' ? STRIP_DEFAULT_ASPECT * height : 96,
    cache = true,
    tint = DEFAULT_TINT,
    majority = [MAJORITY_MIN, MAJORITY_MAX],
    clump = DEFAULT_CLUMP,
  }: SyntheticOptions = {}) {
    if (layout !== 'scenes' && layout !== 'strips') throw new Error(`synthetic dataset: layout must be 'scenes' or 'strips', got ${JSON.stringify(layout)}`);
    this.layout = layout;
    if (split !== 'train' && split !== 'val') throw new Error(`synthetic dataset: split must be 'train' or 'val', got ${JSON.stringify(split)}`);
    this.seed = positiveInt('seed', seed, 0);
    this.split = split;
    this.length = positiveInt('length', length ?? (split === 'train' ? 2000 : 200), 1);
    this.height = positiveInt('height', height, 32);
    this.width = positiveInt('width', width, 32);
    if (layout === 'strips' && this.width < STRIP_MIN_ASPECT * this.height)
      throw new Error(`synthetic dataset: strips must be at least ${STRIP_MIN_ASPECT} times as wide as high, got ${this.height}x${this.width}`);
    this.name = `synthetic(${layout === 'strips' ? 'strips, ' : ''}${split}, seed ${seed}, ${this.length} x ${this.height}x${this.width})`;
    if (typeof cache !== 'boolean') throw new Error(`synthetic dataset: cache must be true or false, got ${JSON.stringify(cache)}`);
    this.#cache = cache ? new Map() : null;
    if (typeof tint !== 'number' || !(tint >= 0 && tint <= 100)) throw new Error(`synthetic dataset: tint must be a number in [0, 100], got ${JSON.stringify(tint)}`);
    if (!Array.isArray(majority) || majority.length !== 2 || !majority.every((v) => typeof v === 'number' && v > 0.5 && v <= 1) || majority[0] > majority[1])
      throw new Error(`synthetic dataset: majority must be [lo, hi] with 0.5 < lo <= hi <= 1, got ${JSON.stringify(majority)}`);
    if (typeof clump !== 'number' || !(clump > 0 && clump <= 16)) throw new Error(`synthetic dataset: clump must be a number in (0, 16], got ${JSON.stringify(clump)}`);
    this.cue = { tint, majority: [majority[0], majority[1]], clump };
  }

  /** The options it was made with, defaults filled in: the same dataset is synthetic(options). */
  get options(): SyntheticOptions {
    const { layout, seed, split, length, height, width } = this;
    return { layout, seed, split, length, height, width, cache: this.#cache !== null, ...this.cue, majority: [...this.cue.majority] };
  }

  /** Scene `index`, synchronously. Callers must not write into the returned arrays (they may be cached). */
  sample(index: number): RawSample {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.length)
      throw new Error(`${this.name}: index ${index} is out of range [0, ${this.length})`);
    let scene = this.#cache?.get(index);
    if (!scene) {
      scene =
        this.layout === 'strips'
          ? syntheticStrip(this.seed, this.split, index, this.height, this.width)
          : syntheticScene(this.seed, this.split, index, this.height, this.width, this.cue);
      this.#cache?.set(index, scene);
    }
    return scene;
  }

  get(index: number): Promise<RawSample> {
    try {
      return Promise.resolve(this.sample(index));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }
}

/** `synthetic({ split: 'val' })`: the embedded dataset. */
export function synthetic(options: SyntheticOptions = {}): SyntheticDataset {
  return new SyntheticDataset(options);
}
