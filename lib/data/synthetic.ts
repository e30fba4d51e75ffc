// The embedded dataset: scenes drawn from a seed, where one pair of classes is decided by a cue far
// from the object and the others by local appearance. It stands in for Cityscapes on a CPU: small,
// free, deterministic. Whether it separates the paper's Table 6 rows is measured, not assumed: see
// bench/data/RESULTS.md (at 300-1000 iterations it does NOT yet).
//
// A scene has one colour, red or blue:
//   background   Voronoi blotches (grey levels 70..160, pixel noise), each tinted towards the
//                scene's colour (`cast` levels on the red-blue axis, `castSpread` from blotch to blotch)
//   stripes      a disc or square of high-contrast stripes                      -> local texture
//   checks       a disc or square of a checkerboard                             -> local texture
//   marker-red   small saturated squares in the scene's colour                  -> local colour
//   marker-blue
//   token-red    plain bright discs or squares with a dark rim, in a red scene  -> the scene's cast
//   token-blue   the same objects in a blue scene                               -> the scene's cast
// Around each token a halo TOKEN_CLEARANCE x min(H, W) wide stays grey and holds no marker, so what
// a local receptive field sees of a token is the same in both kinds of scene: only information from
// beyond the halo, pooled over the image, tells token-red from token-blue (what APNB's and AFNB's
// pooled anchors hand every pixel in one step). The cast covers the whole background, so a random
// scale-and-crop keeps it (sparse markers alone did not: most training crops holding a token held
// no marker).
//
// Small preset used for the measurements (bench/data/RESULTS.md), provisional for `ann-seg train`:
//   models.ANN({ depth: 18, width: 0.25, numClasses: 7, keyChannels: 16, valueChannels: 32,
//                contextChannels: 64, auxChannels: 32 }), crop 64, batch 8, SGD lr 0.1 momentum 0.9
//   wd 5e-4, poly 0.9; scenes 96 x 96 (train 2000, val 200). Full reached 84.2 mIoU at lr 0.1 x 3000
//   iterations (seed 1; 69.1 / 69.4 at 1500 on seeds 1 / 2: the token pair comes late); baseline
//   86.3 / 73.5 at lr 0.1 x 1500 (seeds 1 / 2). 113-190 ms per iteration measured on the 2 cores
//   at their quietest (baseline / full), so 10 minutes hold about 2500-3000 iterations with evaluation.
import { Generator } from '../random.js';
import { generatorAt, randInt, randUniform, STREAM } from './seed.js';
import type { RawSample, RGB, SegDataset } from './types.js';

export const SYNTHETIC_CLASSES = ['background', 'stripes', 'checks', 'marker-red', 'marker-blue', 'token-red', 'token-blue'] as const;

export const SYNTHETIC_PALETTE: readonly RGB[] = [
  [40, 40, 40],
  [255, 200, 0],
  [0, 190, 120],
  [150, 0, 0],
  [0, 0, 150],
  [240, 70, 70],
  [50, 110, 240],
];

const BACKGROUND = 0;
const STRIPES = 1;
const CHECKS = 2;
const MARKER_RED = 3;
const MARKER_BLUE = 4;
const TOKEN_RED = 5;
const TOKEN_BLUE = 6;

/** The width of the grey halo around each token, free of tint and markers, as a fraction of min(H, W). */
export const TOKEN_CLEARANCE = 0.12;

/** The scene's colour cast (red-blue axis, 8-bit levels) and its spread from blotch to blotch. */
export const DEFAULT_CAST = 40;
export const DEFAULT_CAST_SPREAD = 12;

/** How strongly the background carries the scene's colour. */
export interface CastOptions {
  /** Mean tint of a blotch, in 8-bit levels on the red-blue axis (default DEFAULT_CAST). */
  cast?: number;
  /** Standard deviation of the tint from blotch to blotch (default DEFAULT_CAST_SPREAD). */
  castSpread?: number;
}

export interface SyntheticOptions extends CastOptions {
  /** Scenes are a pure function of (seed, split, index). Default 0. */
  seed?: number;
  /** 'train' and 'val' draw from different streams of the same seed. Default 'train'. */
  split?: 'train' | 'val';
  /** Number of scenes; default 2000 for train, 200 for val. */
  length?: number;
  /** Scene size; default 96 x 96 (at least 32 each). */
  height?: number;
  width?: number;
  /**
   * Keep drawn scenes in memory (default true): from the second epoch on a scene costs nothing.
   * 2000 scenes of 96 x 96 hold 74 MB.
   */
  cache?: boolean;
}

type Shape = { kind: 'disc' | 'square'; cx: number; cy: number; r: number };

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`synthetic dataset: ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

/** Signed depth of pixel centre (x, y) inside the shape (> 0 inside), in pixels. */
function depthInside(s: Shape, x: number, y: number): number {
  const dx = x + 0.5 - s.cx;
  const dy = y + 0.5 - s.cy;
  return s.kind === 'disc' ? s.r - Math.sqrt(dx * dx + dy * dy) : s.r - Math.max(Math.abs(dx), Math.abs(dy));
}

class Canvas {
  readonly image: Uint8Array;
  readonly label: Uint8Array;
  constructor(
    readonly height: number,
    readonly width: number,
  ) {
    this.image = new Uint8Array(height * width * 3);
    this.label = new Uint8Array(height * width);
  }

  put(i: number, r: number, g: number, b: number, cls: number): void {
    this.image[3 * i] = clamp255(r);
    this.image[3 * i + 1] = clamp255(g);
    this.image[3 * i + 2] = clamp255(b);
    this.label[i] = cls;
  }

  /** Calls paint(i, x, y, depth) for each pixel whose depth inside the shape exceeds -margin. */
  fill(s: Shape, paint: (i: number, x: number, y: number, depth: number) => void, margin = 0): void {
    const reach = (s.kind === 'square' ? s.r * Math.SQRT2 : s.r) + margin;
    const x0 = Math.max(0, Math.floor(s.cx - reach));
    const x1 = Math.min(this.width - 1, Math.ceil(s.cx + reach));
    const y0 = Math.max(0, Math.floor(s.cy - reach));
    const y1 = Math.min(this.height - 1, Math.ceil(s.cy + reach));
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const d = depthInside(s, x, y);
        if (d > -margin) paint(y * this.width + x, x, y, d);
      }
  }
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function noise(g: Generator, amplitude: number): number {
  return (g.nextUint32() * (2 / 4294967296) - 1) * amplitude;
}

/**
 * Voronoi blotches on a jittered grid (each pixel looks at the 3 x 3 cells around its own), grey
 * levels 70..160, each tinted along the red-blue axis by sign x cast + castSpread x N(0, 1), except
 * where `neutral` says (the halo around tokens), which stays grey.
 */
function paintBackground(c: Canvas, g: Generator, m: number, sign: number, neutral: Uint8Array, cast: number, castSpread: number): void {
  const cell = Math.max(4, Math.round(m / 8));
  // One ring of cells beyond the image on every side, so the 3 x 3 search needs no bounds checks.
  const gw = Math.ceil(c.width / cell) + 2;
  const gh = Math.ceil(c.height / cell) + 2;
  const sx = new Float64Array(gw * gh);
  const sy = new Float64Array(gw * gh);
  const level = new Float64Array(gw * gh);
  const tint = new Float64Array(gw * gh);
  for (let j = 0; j < gh; j++)
    for (let i = 0; i < gw; i++) {
      const k = j * gw + i;
      sx[k] = (i - 1 + g.uniform()) * cell;
      sy[k] = (j - 1 + g.uniform()) * cell;
      level[k] = randUniform(g, 70, 160);
      tint[k] = sign * cast + castSpread * g.normal();
    }
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
      const n = level[nearest] + noise(g, 10);
      const t = neutral[y * c.width + x] ? 0 : tint[nearest];
      c.put(y * c.width + x, n + t, n, n - t, BACKGROUND);
    }
  }
}

/** Draws a shape that keeps `gap` pixels from every placed one, or null after 60 tries. */
function place(g: Generator, c: Canvas, placed: Shape[], r: number, gap: (other: Shape) => number, only?: Shape['kind']): Shape | null {
  for (let t = 0; t < 60; t++) {
    const kind = g.uniform() < 0.5 ? 'disc' : 'square';
    const s: Shape = {
      kind: only ?? kind,
      cx: randUniform(g, r, c.width - r),
      cy: randUniform(g, r, c.height - r),
      r,
    };
    // Squares reach sqrt(2) r at the corners; keep clear by the outer radius.
    const outer = (o: Shape) => (o.kind === 'square' ? o.r * Math.SQRT2 : o.r);
    if (placed.every((o) => Math.hypot(o.cx - s.cx, o.cy - s.cy) >= outer(o) + outer(s) + gap(o))) return s;
  }
  return null;
}

/** Scene `index` of the stream for (seed, split): a pure function of its arguments. */
export function syntheticScene(
  seed: number,
  split: 'train' | 'val',
  index: number,
  height: number,
  width: number,
  { cast = DEFAULT_CAST, castSpread = DEFAULT_CAST_SPREAD }: CastOptions = {},
): RawSample {
  const g = generatorAt(seed, split === 'train' ? STREAM.trainScenes : STREAM.valScenes, index);
  const c = new Canvas(height, width);
  const m = Math.min(height, width);
  const red = g.uniform() < 0.5;

  const placed: Shape[] = [];
  const objects: { shape: Shape; cls: number }[] = [];
  const kinds = [
    ...Array<number>(randInt(g, 1, 2)).fill(TOKEN_RED),
    ...Array<number>(randInt(g, 1, 2)).fill(STRIPES),
    ...Array<number>(randInt(g, 1, 2)).fill(CHECKS),
  ];
  for (const cls of kinds) {
    const s = place(g, c, placed, randUniform(g, 0.08, 0.14) * m, () => 2);
    if (!s) continue;
    placed.push(s);
    objects.push({ shape: s, cls });
  }
  const tokens = objects.filter((o) => o.cls === TOKEN_RED).map((o) => o.shape);
  const halo = TOKEN_CLEARANCE * m;
  const markers: Shape[] = [];
  const nMarkers = randInt(g, 4, 6);
  for (let k = 0; k < nMarkers; k++) {
    const a = randUniform(g, 0.04, 0.055) * m;
    const s = place(g, c, [...placed, ...markers], a, (o) => (tokens.includes(o) ? halo : 2), 'square');
    if (s) markers.push(s);
  }
  const neutral = new Uint8Array(height * width);
  for (const t of tokens) c.fill(t, (i) => (neutral[i] = 1), halo);
  paintBackground(c, g, m, red ? 1 : -1, neutral, cast, castSpread);

  const period = Math.max(4, Math.round(0.07 * m));
  for (const { shape, cls } of objects) {
    if (cls === STRIPES) {
      const angle = (randInt(g, 0, 3) * Math.PI) / 4;
      const [ux, uy] = [Math.cos(angle), Math.sin(angle)];
      const phase = g.uniform();
      c.fill(shape, (i, x, y) => {
        const t = ((x * ux + y * uy) / period + phase) % 1;
        const v = (t < 0 ? t + 1 : t) < 0.5 ? 35 : 215;
        const n = v + noise(g, 12);
        c.put(i, n, n, n, STRIPES);
      });
    } else if (cls === CHECKS) {
      const half = period / 2;
      const [px, py] = [g.uniform() * period, g.uniform() * period];
      c.fill(shape, (i, x, y) => {
        const v = (Math.floor((x + px) / half) + Math.floor((y + py) / half)) % 2 === 0 ? 35 : 215;
        const n = v + noise(g, 12);
        c.put(i, n, n, n, CHECKS);
      });
    } else {
      c.fill(shape, (i, _x, _y, depth) => {
        const n = (depth < 1.5 ? 40 : 228) + noise(g, 8);
        c.put(i, n, n, n, red ? TOKEN_RED : TOKEN_BLUE);
      });
    }
  }
  const [mr, mg, mb] = red ? [210, 40, 40] : [40, 70, 210];
  for (const s of markers) c.fill(s, (i) => c.put(i, mr + noise(g, 15), mg + noise(g, 15), mb + noise(g, 15), red ? MARKER_RED : MARKER_BLUE));

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
  readonly castOptions: Required<CastOptions>;
  readonly #cache: Map<number, RawSample> | null;

  constructor({ seed = 0, split = 'train', length, height = 96, width = 96, cache = true, cast = DEFAULT_CAST, castSpread = DEFAULT_CAST_SPREAD }: SyntheticOptions = {}) {
    if (split !== 'train' && split !== 'val') throw new Error(`synthetic dataset: split must be 'train' or 'val', got ${JSON.stringify(split)}`);
    this.seed = positiveInt('seed', seed, 0);
    this.split = split;
    this.length = positiveInt('length', length ?? (split === 'train' ? 2000 : 200), 1);
    this.height = positiveInt('height', height, 32);
    this.width = positiveInt('width', width, 32);
    this.name = `synthetic(${split}, seed ${seed}, ${this.length} x ${this.height}x${this.width})`;
    if (typeof cache !== 'boolean') throw new Error(`synthetic dataset: cache must be true or false, got ${JSON.stringify(cache)}`);
    this.#cache = cache ? new Map() : null;
    for (const [name, v] of [
      ['cast', cast],
      ['castSpread', castSpread],
    ] as const)
      if (typeof v !== 'number' || !(v >= 0 && v <= 128)) throw new Error(`synthetic dataset: ${name} must be a number in [0, 128], got ${JSON.stringify(v)}`);
    this.castOptions = { cast, castSpread };
  }

  /** Scene `index`, synchronously. Callers must not write into the returned arrays (they may be cached). */
  sample(index: number): RawSample {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.length)
      throw new Error(`${this.name}: index ${index} is out of range [0, ${this.length})`);
    let scene = this.#cache?.get(index);
    if (!scene) {
      scene = syntheticScene(this.seed, this.split, index, this.height, this.width, this.castOptions);
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
