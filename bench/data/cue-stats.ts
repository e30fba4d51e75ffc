// How much of the colour cue a local window and a training crop keep: for each token pixel, does the
// tinted majority (red - blue > 0 counted per pixel) inside a window of radius r around it, or inside
// the training crop holding it, agree with its label? The whole scene agrees by construction.
//   npx tsx bench/data/cue-stats.ts [--scenes 200] [--tint 45] [--lo 0.62] [--hi 0.8] [--clump 1.6]
import { parseArgs } from 'node:util';

import { data } from '../../lib/index.js';
import type { RawSample } from '../../lib/data/index.js';
import { generatorAt } from '../../lib/data/seed.js';

const { values: a } = parseArgs({
  options: {
    scenes: { type: 'string', default: '200' },
    tint: { type: 'string', default: String(data.DEFAULT_TINT) },
    lo: { type: 'string', default: String(data.MAJORITY_MIN) },
    hi: { type: 'string', default: String(data.MAJORITY_MAX) },
    clump: { type: 'string', default: String(data.DEFAULT_CLUMP) },
    size: { type: 'string', default: '96' },
    crop: { type: 'string', default: '64' },
  },
});
const [RED, BLUE] = [data.SYNTHETIC_CLASSES.indexOf('token-red'), data.SYNTHETIC_CLASSES.indexOf('token-blue')];
const size = Number(a.size);
const ds = data.synthetic({
  length: Number(a.scenes),
  height: size,
  width: size,
  tint: Number(a.tint),
  majority: [Number(a.lo), Number(a.hi)],
  clump: Number(a.clump),
});

/** Per pixel +1 red-tinted, -1 blue-tinted, 0 grey or not background; integral image for box sums. */
function votes(s: RawSample): Int32Array {
  const { height: h, width: w } = s;
  const sum = new Int32Array((h + 1) * (w + 1));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const d = [0, 3, 4].includes(s.label[p]) ? Math.sign(s.image[3 * p] - s.image[3 * p + 2]) : 0;
      sum[(y + 1) * (w + 1) + x + 1] = d + sum[y * (w + 1) + x + 1] + sum[(y + 1) * (w + 1) + x] - sum[y * (w + 1) + x];
    }
  return sum;
}
function box(sum: Int32Array, w: number, h: number, x0: number, y0: number, x1: number, y1: number): number {
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  x1 = Math.min(w, x1);
  y1 = Math.min(h, y1);
  if (x1 <= x0 || y1 <= y0) return 0;
  const W = w + 1;
  return sum[y1 * W + x1] - sum[y0 * W + x1] - sum[y1 * W + x0] + sum[y0 * W + x0];
}

const radii = [16, 24, 32, 48];
const agree = radii.map(() => [0, 0, 0]); // agree, disagree, tie
const crop = [0, 0, 0];
let tokenShare = 0;
let pixels = 0;
for (let i = 0; i < ds.length; i++) {
  const s = ds.sample(i);
  const sum = votes(s);
  const { height: h, width: w } = s;
  for (let p = 0; p < h * w; p++) {
    const c = s.label[p];
    pixels++;
    if (c !== RED && c !== BLUE) continue;
    tokenShare++;
    const sign = c === RED ? 1 : -1;
    const [x, y] = [p % w, Math.floor(p / w)];
    radii.forEach((r, k) => {
      const v = sign * box(sum, w, h, x - r, y - r, x + r + 1, y + r + 1);
      agree[k][v > 0 ? 0 : v < 0 ? 1 : 2]++;
    });
  }
  // Training crops: the crop's own votes against its token pixels.
  for (let t = 0; t < 4; t++) {
    const cropSize = Number(a.crop);
    const aug = data.augment(s, [cropSize, cropSize], generatorAt(99, i, t));
    const cs = votes(aug);
    const v = box(cs, cropSize, cropSize, 0, 0, cropSize, cropSize);
    for (const c of aug.label) if (c === RED || c === BLUE) crop[(c === RED ? 1 : -1) * v > 0 ? 0 : v === 0 ? 2 : 1]++;
  }
}
const pct = (x: number[]) => `${((100 * x[0]) / (x[0] + x[1] + x[2])).toFixed(1)}% agree, ${((100 * x[1]) / (x[0] + x[1] + x[2])).toFixed(1)}% disagree, ${((100 * x[2]) / (x[0] + x[1] + x[2])).toFixed(1)}% no tinted pixel`;
console.log(`${ds.name} ${JSON.stringify(ds.cue)}: token pixels ${((100 * tokenShare) / pixels).toFixed(1)}% of all`);
radii.forEach((r, k) => console.log(`window radius ${r}: ${pct(agree[k])}`));
console.log(`training crop ${a.crop}: ${pct(crop)}`);
