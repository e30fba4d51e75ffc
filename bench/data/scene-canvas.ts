// What the experimental scene families (retrieval-scenes.ts, count-scenes.ts) draw on: a noisy grey
// canvas labelled background, shapes filled by a painter, and the stripes / checks textures, in the
// generator order both families' scenes were first made with (so their seeds give the same scenes).
import { data, Generator } from '../../lib/index.js';

export const [BG, STRIPES, CHECKS] = [0, 1, 2];
export type Shape = { cx: number; cy: number; r: number; square: boolean };

// A square m x m canvas, or m high and `width` wide.
export function canvas(seed: number, index: number, m: number, width = m) {
  const g = new Generator(seed * 1_000_003 + index);
  const u = (lo: number, hi: number) => lo + (hi - lo) * g.uniform();
  const image = new Uint8Array(m * width * 3);
  const label = new Uint8Array(m * width);
  const grey = u(90, 150);
  const put = (i: number, r: number, gg: number, b: number, cls: number) => {
    const n = (g.uniform() * 2 - 1) * 8;
    image[3 * i] = Math.max(0, Math.min(255, Math.round(r + n)));
    image[3 * i + 1] = Math.max(0, Math.min(255, Math.round(gg + n)));
    image[3 * i + 2] = Math.max(0, Math.min(255, Math.round(b + n)));
    label[i] = cls;
  };
  for (let i = 0; i < m * width; i++) put(i, grey, grey, grey, BG);
  // paint(i, x, y, depth) for every pixel inside the shape, `depth` px from its edge.
  const fill = (s: Shape, paint: (i: number, x: number, y: number, depth: number) => void) => {
    for (let y = Math.max(0, Math.floor(s.cy - 1.5 * s.r)); y < Math.min(m, Math.ceil(s.cy + 1.5 * s.r)); y++)
      for (let x = Math.max(0, Math.floor(s.cx - 1.5 * s.r)); x < Math.min(width, Math.ceil(s.cx + 1.5 * s.r)); x++) {
        const dx = x + 0.5 - s.cx;
        const dy = y + 0.5 - s.cy;
        const d = s.square ? s.r - Math.max(Math.abs(dx), Math.abs(dy)) : s.r - Math.hypot(dx, dy);
        if (d > 0) paint(y * width + x, x, y, d);
      }
  };
  const period = Math.max(4, Math.round(0.07 * m));
  const texture = (s: Shape, cls: number) =>
    fill(s, (i, x, y) => {
      const on = cls === STRIPES ? Math.floor(x / (period / 2)) % 2 === 0 : (Math.floor(x / (period / 2)) + Math.floor(y / (period / 2))) % 2 === 0;
      const v = on ? 35 : 215;
      put(i, v, v, v, cls);
    });
  return { g, u, image, label, put, fill, texture };
}

/** A family's scenes as a dataset separation.ts trains and evaluates on, each drawn once and kept. */
export class SceneSet<S extends data.RawSample> implements data.SegDataset {
  readonly classes = data.SYNTHETIC_CLASSES;
  readonly palette = data.SYNTHETIC_PALETTE;
  readonly height: number;
  readonly width: number;
  #cache = new Map<number, S>();
  constructor(
    readonly name: string,
    readonly length: number,
    size: number,
    private readonly draw: (index: number) => S,
    width = size,
  ) {
    this.height = size;
    this.width = width;
  }
  sample(index: number): S {
    let s = this.#cache.get(index);
    if (!s) this.#cache.set(index, (s = this.draw(index)));
    return s;
  }
  get(index: number): Promise<data.RawSample> {
    return Promise.resolve(this.sample(index));
  }
}
