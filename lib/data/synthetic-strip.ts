// The embedded dataset's 'strips' layout: scenes far wider than high, whose token pair is decided by
// a colour cast at the other end of the strip, beyond the reach of any stack of convolutions.
//
// The ground of a strip's first STRIP_CAST of its width is tinted red or blue (labelled ground-red /
// ground-blue, so the features carry the colour); the rest is plain grey. 2-3 tokens sit in the last
// eighth, labelled token-red or token-blue after the cast; one stripes and one checks object lie in
// between. At 64 x 512 the cast ends at x = 128 and the tokens start at x = 448: 320 px apart, more
// than the radius (about 250 px) of the 'small' network's receptive field (dilated ResNet-18 at output
// stride 8: 499 px across, head included). So the FCN baseline cannot see the cue at all and labels
// tokens by chance, while APNB's and AFNB's pooled anchors cover the whole strip and hand the cast
// to every pixel. bench/ablation/table6.md measures it.
import type { Generator } from '../random.js';
import { BACKGROUND, Canvas, CHECKS, GROUND_BLUE, GROUND_RED, noise, paintObject, STRIPES, TOKEN_BLUE, TOKEN_RED, type Shape } from './scene-paint.js';
import { generatorAt, randInt, randUniform, STREAM } from './seed.js';
import type { RawSample } from './types.js';

/** The share of a strip's width, from its left edge, whose ground carries the cast. */
export const STRIP_CAST = 0.25;

/** A strip's width over its height when only the height is given. */
export const STRIP_DEFAULT_ASPECT = 8;

/** A strip is at least this many times as wide as high (its tokens need the last eighth). */
export const STRIP_MIN_ASPECT = 4;

/** Strip `index` of the stream for (seed, split): a pure function of its arguments (width >= STRIP_MIN_ASPECT x height). */
export function syntheticStrip(seed: number, split: 'train' | 'val', index: number, h: number, w: number): RawSample {
  const g = generatorAt(seed, split === 'train' ? STREAM.trainScenes : STREAM.valScenes, index);
  const c = new Canvas(h, w);
  const red = g.uniform() < 0.5;
  const grey = randUniform(g, 90, 150);
  const castEnd = Math.round(STRIP_CAST * w);
  const tint = red ? 45 : -45;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const n = grey + noise(g, 10);
      const t = x < castEnd ? tint : 0;
      c.put(y * w + x, n + t, n, n - t, t === 0 ? BACKGROUND : t > 0 ? GROUND_RED : GROUND_BLUE);
    }
  const period = Math.max(4, Math.round(0.07 * h));
  // The textures in the two halves of the grey middle, in random order, so they never overlap.
  const middle = [castEnd, (7 * w) / 8];
  const half = (middle[1] - middle[0]) / 2;
  const first = g.uniform() < 0.5 ? STRIPES : CHECKS;
  for (const [k, cls] of [first, first === STRIPES ? CHECKS : STRIPES].entries()) {
    const r = randUniform(g, 0.14, 0.2) * h;
    const x0 = middle[0] + k * half;
    paintObject(c, g, shapeAt(g, randUniform(g, x0 + r + 1, x0 + half - r - 1), randUniform(g, r + 1, h - r - 1), r), cls, period);
  }
  // One token per band of rows of the last eighth, so they never overlap either.
  const tokens = randInt(g, 2, 3);
  const band = h / tokens;
  for (let t = 0; t < tokens; t++) {
    const r = Math.min(randUniform(g, 0.1, 0.14) * h, band / 2 - 1);
    paintObject(c, g, shapeAt(g, randUniform(g, (7 * w) / 8 + r + 1, w - r - 1), (t + 0.5) * band, r), red ? TOKEN_RED : TOKEN_BLUE, period);
  }
  return { image: c.image, label: c.label, height: h, width: w, name: `strip-${split}-${seed}-${index}` };
}

function shapeAt(g: Generator, cx: number, cy: number, r: number): Shape {
  return { kind: g.uniform() < 0.5 ? 'disc' : 'square', cx, cy, r };
}
