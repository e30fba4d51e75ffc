// An experimental scene family for bench/data/separation.ts --beacon (not the embedded dataset): a
// strip far wider than the baseline's receptive field. One red or blue beacon (labelled ground-red /
// ground-blue, so the features carry its colour) sits in the strip's first eighth, the 2-3 white tokens
// in its last eighth, labelled token-red or token-blue after the beacon. At 64 x 512 the two are at
// least 384 px apart (288 at the augmentation's 0.75 scale), beyond the dilated ResNet-18's 499 px
// receptive field (radius about 250): the FCN baseline cannot see the cue at all, while APNB's and
// AFNB's 1 x 1 pooled anchor (the whole strip) holds it.
import { canvas, CHECKS, SceneSet, STRIPES, type Shape } from './scene-canvas.js';

const [BEACON_RED, BEACON_BLUE, TOKEN_RED, TOKEN_BLUE] = [3, 4, 5, 6];

function scene(seed: number, index: number, h: number, w: number, cast: number) {
  const { g, u, image, label, put, fill, texture } = canvas(seed, index, h, w);
  const red = g.uniform() < 0.5;
  if (cast > 0) {
    // The ground of the strip's first `cast` share tinted instead of a beacon.
    const tint = red ? [45, 0, -45] : [-45, 0, 45];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < Math.round(cast * w); x++) {
        const i = y * w + x;
        put(i, image[3 * i] + tint[0], image[3 * i + 1] + tint[1], image[3 * i + 2] + tint[2], red ? BEACON_RED : BEACON_BLUE);
      }
  } else {
    const br = u(0.16, 0.22) * h;
    const beacon: Shape = { cx: u(br + 1, w / 8 - 1), cy: u(br + 1, h - br - 1), r: br, square: g.uniform() < 0.5 };
    fill(beacon, (i) => (red ? put(i, 205, 45, 45, BEACON_RED) : put(i, 45, 65, 205, BEACON_BLUE)));
  }
  // Tokens one per band of the last eighth's rows, so they never overlap.
  const nTok = 2 + (g.uniform() < 0.5 ? 1 : 0);
  for (let t = 0; t < nTok; t++) {
    const r = u(0.1, 0.14) * h;
    const band = h / nTok;
    const s: Shape = { cx: u((7 * w) / 8 + r + 1, w - r - 1), cy: t * band + band / 2, r: Math.min(r, band / 2 - 1), square: g.uniform() < 0.5 };
    fill(s, (i, _x, _y, d) => {
      const v = d < 1.5 ? 40 : 228;
      put(i, v, v, v, red ? TOKEN_RED : TOKEN_BLUE);
    });
  }
  // The local classes in the middle three quarters.
  for (const cls of [STRIPES, CHECKS]) {
    const r = u(0.14, 0.2) * h;
    texture({ cx: u(Math.max(cast, 1 / 8) * w + r + 1, (7 * w) / 8 - r - 1), cy: u(r + 1, h - r - 1), r, square: g.uniform() < 0.5 }, cls);
  }
  return { image, label, height: h, width: w, name: `beacon-${seed}-${index}` };
}

export class BeaconScenes extends SceneSet<ReturnType<typeof scene>> {
  constructor(length: number, seed: number, height: number, width: number, cast = 0) {
    super(`beacon(seed ${seed}, ${length} x ${height}x${width})`, length, height, (index) => scene(seed, index, height, width, cast), width);
  }
}
