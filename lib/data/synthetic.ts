// The embedded dataset: scenes drawn from a seed, where one pair of classes is decided by a cue far
// from the object and the others by local appearance. It stands in for Cityscapes on a CPU: small,
// free, and it separates the models the paper's Table 6 separates (see bench/data/RESULTS.md).
//
// A scene (all of it grey except the markers):
//   background  grey Voronoi blotches (levels 70..160) with pixel noise
//   stripes     an object (disc or square) filled with high-contrast stripes       -> local texture
//   checks      an object filled with a checkerboard                               -> local texture
//   marker-red  small saturated squares, all red or all blue in one scene          -> local colour
//   marker-blue
//   token-red   plain bright objects with a dark rim, in a scene whose markers are red
//   token-blue  the same plain objects, in a scene whose markers are blue
// A token's pixels and its neighbourhood are drawn the same way in both scenes, and no marker lies
// within TOKEN_CLEARANCE x min(H, W) of a token's edge: telling token-red from token-blue needs
// information from far across the image, which a local receptive field does not have and a
// non-local block (APNB, AFNB) passes in one step. Markers are scattered over the whole image, so a
// random scale-and-crop almost always keeps some of them.
import { Generator } from '../random.js';
import { generatorAt, randInt, randUniform, STREAM } from './seed.js';
import type { RawSample, SegDataset } from './types.js';

export const SYNTHETIC_CLASSES = ['background', 'stripes', 'checks', 'marker-red', 'marker-blue', 'token-red', 'token-blue'] as const;

export const SYNTHETIC_PALETTE: readonly (readonly [number, number, number])[] = [
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

/** The least distance from a token's edge to any marker, as a fraction of min(H, W). */
export const TOKEN_CLEARANCE = 0.1;

export interface SyntheticOptions {
  /** Scenes are a pure function of (seed, split, index). Default 0. */
  seed?: number;
  /** 'train' and 'val' draw from different streams of the same seed. Default 'train'. */
  split?: 'train' | 'val';
  /** Number of scenes; default 2000 for train, 200 for val. */
  length?: number;
  /** Scene size; default 96 x 96 (at least 32 each). */
  height?: number;
  width?: number;
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
  return s.kind === 'disc' ? s.r - Math.hypot(dx, dy) : s.r - Math.max(Math.abs(dx), Math.abs(dy));
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

  /** Calls paint(i, x, y, depth) for each pixel inside the shape. */
  fill(s: Shape, paint: (i: number, x: number, y: number, depth: number) => void): void {
    const x0 = Math.max(0, Math.floor(s.cx - s.r));
    const x1 = Math.min(this.width - 1, Math.ceil(s.cx + s.r));
    const y0 = Math.max(0, Math.floor(s.cy - s.r));
    const y1 = Math.min(this.height - 1, Math.ceil(s.cy + s.r));
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const d = depthInside(s, x, y);
        if (d > 0) paint(y * this.width + x, x, y, d);
      }
  }
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function noise(g: Generator, amplitude: number): number {
  return (g.nextUint32() * (2 / 4294967296) - 1) * amplitude;
}

/** Grey Voronoi blotches on a jittered grid (each pixel looks at the 3 x 3 cells around its own). */
function paintBackground(c: Canvas, g: Generator, m: number): void {
  const cell = Math.max(4, Math.round(m / 8));
  // One ring of cells beyond the image on every side, so the 3 x 3 search needs no bounds checks.
  const gw = Math.ceil(c.width / cell) + 2;
  const gh = Math.ceil(c.height / cell) + 2;
  const sx = new Float64Array(gw * gh);
  const sy = new Float64Array(gw * gh);
  const level = new Float64Array(gw * gh);
  for (let j = 0; j < gh; j++)
    for (let i = 0; i < gw; i++) {
      const k = j * gw + i;
      sx[k] = (i - 1 + g.uniform()) * cell;
      sy[k] = (j - 1 + g.uniform()) * cell;
      level[k] = randUniform(g, 70, 160);
    }
  for (let y = 0; y < c.height; y++) {
    const cj = Math.floor(y / cell) + 1;
    const py = y + 0.5;
    for (let x = 0; x < c.width; x++) {
      const ci = Math.floor(x / cell) + 1;
      const px = x + 0.5;
      let best = Infinity;
      let v = 0;
      for (let j = cj - 1; j <= cj + 1; j++)
        for (let k = j * gw + ci - 1, end = k + 3; k < end; k++) {
          const dx = px - sx[k];
          const dy = py - sy[k];
          const d = dx * dx + dy * dy;
          if (d < best) {
            best = d;
            v = level[k];
          }
        }
      const n = v + noise(g, 10);
      c.put(y * c.width + x, n, n, n, BACKGROUND);
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
export function syntheticScene(seed: number, split: 'train' | 'val', index: number, height: number, width: number): RawSample {
  const g = generatorAt(seed, split === 'train' ? STREAM.trainScenes : STREAM.valScenes, index);
  const c = new Canvas(height, width);
  const m = Math.min(height, width);
  paintBackground(c, g, m);

  const red = g.uniform() < 0.5;
  const placed: Shape[] = [];
  const objects: { shape: Shape; cls: number }[] = [];
  const kinds = [
    ...Array<number>(randInt(g, 2, 3)).fill(TOKEN_RED),
    ...Array<number>(randInt(g, 1, 2)).fill(STRIPES),
    ...Array<number>(randInt(g, 1, 2)).fill(CHECKS),
  ];
  for (const cls of kinds) {
    const s = place(g, c, placed, randUniform(g, 0.08, 0.14) * m, () => 2);
    if (!s) continue;
    placed.push(s);
    objects.push({ shape: s, cls });
  }
  const tokens = new Set(objects.filter((o) => o.cls === TOKEN_RED).map((o) => o.shape));
  const clearance = TOKEN_CLEARANCE * m;
  const markers: Shape[] = [];
  const nMarkers = randInt(g, 16, 22);
  for (let k = 0; k < nMarkers; k++) {
    const a = Math.max(1.5, randUniform(g, 0.022, 0.032) * m);
    const s = place(g, c, [...placed, ...markers], a, (o) => (tokens.has(o) ? clearance : 2), 'square');
    if (s) markers.push(s);
  }

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

  constructor({ seed = 0, split = 'train', length, height = 96, width = 96 }: SyntheticOptions = {}) {
    if (split !== 'train' && split !== 'val') throw new Error(`synthetic dataset: split must be 'train' or 'val', got ${JSON.stringify(split)}`);
    this.seed = positiveInt('seed', seed, 0);
    this.split = split;
    this.length = positiveInt('length', length ?? (split === 'train' ? 2000 : 200), 1);
    this.height = positiveInt('height', height, 32);
    this.width = positiveInt('width', width, 32);
    this.name = `synthetic(${split}, seed ${seed}, ${this.length} x ${this.height}x${this.width})`;
  }

  /** Scene `index`, synchronously. */
  sample(index: number): RawSample {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.length)
      throw new Error(`${this.name}: index ${index} is out of range [0, ${this.length})`);
    return syntheticScene(this.seed, this.split, index, this.height, this.width);
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
