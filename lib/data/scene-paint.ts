// What both layouts of the embedded dataset (synthetic.ts, synthetic-strip.ts) paint with: the class
// ids, a canvas, shapes placed apart, and the textured and token objects.
import type { Generator } from '../random.js';
import { randInt, randUniform } from './seed.js';

export const BACKGROUND = 0;
export const STRIPES = 1;
export const CHECKS = 2;
export const GROUND_RED = 3;
export const GROUND_BLUE = 4;
export const TOKEN_RED = 5;
export const TOKEN_BLUE = 6;

export type Shape = { kind: 'disc' | 'square'; cx: number; cy: number; r: number };

/** Signed depth of pixel centre (x, y) inside the shape (> 0 inside), in pixels. */
function depthInside(s: Shape, x: number, y: number): number {
  const dx = x + 0.5 - s.cx;
  const dy = y + 0.5 - s.cy;
  return s.kind === 'disc' ? s.r - Math.sqrt(dx * dx + dy * dy) : s.r - Math.max(Math.abs(dx), Math.abs(dy));
}

export class Canvas {
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

export function noise(g: Generator, amplitude: number): number {
  return (g.nextUint32() * (2 / 4294967296) - 1) * amplitude;
}

/** Draws a shape that keeps `gap` pixels from every placed one, or null after 60 tries. */
export function place(g: Generator, c: Canvas, placed: Shape[], r: number, gap: number): Shape | null {
  for (let t = 0; t < 60; t++) {
    const s: Shape = {
      kind: g.uniform() < 0.5 ? 'disc' : 'square',
      cx: randUniform(g, r, c.width - r),
      cy: randUniform(g, r, c.height - r),
      r,
    };
    // Squares reach sqrt(2) r at the corners; keep clear by the outer radius.
    const outer = (o: Shape) => (o.kind === 'square' ? o.r * Math.SQRT2 : o.r);
    if (placed.every((o) => Math.hypot(o.cx - s.cx, o.cy - s.cy) >= outer(o) + outer(s) + gap)) return s;
  }
  return null;
}

/**
 * Paints a placed object: high-contrast stripes at a random multiple of 45 degrees, a checkerboard, or a
 * token (a plain bright shape with a dark rim) of class `cls`; `period` is the textures' in pixels.
 */
export function paintObject(c: Canvas, g: Generator, shape: Shape, cls: number, period: number): void {
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
      c.put(i, n, n, n, cls);
    });
  }
}
