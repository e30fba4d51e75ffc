// An experimental scene family for bench/data/separation.ts --count (not the embedded dataset): the
// token's class is a COUNT over the whole scene. Each scene scatters 13-21 equal red or blue discs
// (labelled ground-red / ground-blue, so the features must carry their colour) uniformly; the tokens
// are labelled token-red when red discs outnumber blue ones. The winner's lead is small (60-67% of
// the discs), so the discs near a token are a poor sample of the count: the whole image has to be
// averaged, which APNB's and AFNB's 1 x 1 pooled anchor does in one step.
import { data } from '../../lib/index.js';

import { canvas, CHECKS, SceneSet, STRIPES, type Shape } from './scene-canvas.js';

const [DISC_RED, DISC_BLUE, TOKEN_RED, TOKEN_BLUE] = [3, 4, 5, 6];

export interface CountOptions {
  discs?: [number, number];
  lead?: [number, number];
  radius?: number;
}

function scene(seed: number, index: number, m: number, o: Required<CountOptions>): data.RawSample & { reds: Shape[]; blues: Shape[] } {
  const { g, u, image, label, put, fill, texture } = canvas(seed, index, m);
  const placed: Shape[] = [];
  const place = (r: number, gap: number, square: boolean | null): Shape | null => {
    for (let t = 0; t < 400; t++) {
      const s = { cx: u(r + 1, m - r - 1), cy: u(r + 1, m - r - 1), r, square: square ?? g.uniform() < 0.5 };
      const outer = (q: Shape) => (q.square ? q.r * Math.SQRT2 : q.r);
      if (placed.every((p) => Math.hypot(p.cx - s.cx, p.cy - s.cy) >= outer(p) + outer(s) + gap)) {
        placed.push(s);
        return s;
      }
    }
    return null;
  };
  const redWins = g.uniform() < 0.5;
  const tokens: Shape[] = [];
  const nTok = 2 + (g.uniform() < 0.5 ? 1 : 0);
  for (let t = 0; t < nTok; t++) {
    const s = place(u(0.08, 0.12) * m, 3, null);
    if (s) tokens.push(s);
  }
  const textures: [Shape, number][] = [];
  for (const cls of [STRIPES, CHECKS]) {
    const s = place(u(0.08, 0.11) * m, 3, null);
    if (s) textures.push([s, cls]);
  }
  // Discs all of one size, so the count is the area: the winner takes a share in [lead] of them.
  const total = Math.floor(u(o.discs[0], o.discs[1] + 1));
  const discs: Shape[] = [];
  for (let k = 0; k < total; k++) {
    const s = place(o.radius, 2, false);
    if (s) discs.push(s);
  }
  // The winner's share of the discs that found room (a strict majority, never all of them).
  const win = Math.min(discs.length - 1, Math.max(Math.floor(discs.length / 2) + 1, Math.round(u(o.lead[0], o.lead[1]) * discs.length)));
  const reds = redWins ? discs.slice(0, win) : discs.slice(win);
  const blues = redWins ? discs.slice(win) : discs.slice(0, win);
  for (const s of reds) fill(s, (i) => put(i, 205, 45, 45, DISC_RED));
  for (const s of blues) fill(s, (i) => put(i, 45, 65, 205, DISC_BLUE));
  const tokenRed = reds.length > blues.length;
  for (const s of tokens) fill(s, (i, _x, _y, d) => {
    const v = d < 1.5 ? 40 : 228;
    put(i, v, v, v, tokenRed ? TOKEN_RED : TOKEN_BLUE);
  });
  for (const [s, cls] of textures) texture(s, cls);
  return { image, label, height: m, width: m, name: `count-${seed}-${index}`, reds, blues };
}

export class CountScenes extends SceneSet<ReturnType<typeof scene>> {
  readonly options: Required<CountOptions>;
  constructor(length: number, seed: number, size: number, { discs = [13, 21], lead = [0.6, 0.67], radius = 3.5 }: CountOptions = {}) {
    const options = { discs, lead, radius };
    super(`count(seed ${seed}, ${length} x ${size})`, length, size, (index) => scene(seed, index, size, options));
    this.options = options;
  }
}
