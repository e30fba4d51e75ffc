// An experimental scene family for bench/data/separation.ts --retrieval (not the embedded dataset):
// the token's class is found by CONTENT, not by distance. Each scene has two beacons, a red or
// blue ring (each colour drawn independently) round a white core and round a black core; each token
// is a plain white or black shape, labelled token-red when the beacon with the core of its own shade
// is red. The nearest beacon is the wrong one as often as not, so no neighbourhood rule decides the
// label: a pixel has to match its shade against the cores anywhere in the image (what attention's
// query-key product does in one step) and read the ring beside the match. Same 7 classes as
// data.SYNTHETIC_CLASSES (the rings are ground-red / ground-blue, locally decided).
import { data } from '../../lib/index.js';

import { canvas, CHECKS, SceneSet, STRIPES, type Shape } from './scene-canvas.js';

const [RING_RED, RING_BLUE, TOKEN_RED, TOKEN_BLUE] = [3, 4, 5, 6];

function scene(seed: number, index: number, m: number): data.RawSample {
  const { g, u, image, label, put, fill, texture } = canvas(seed, index, m);
  const placed: Shape[] = [];
  const place = (r: number, gap: number): Shape | null => {
    for (let t = 0; t < 200; t++) {
      const s = { cx: u(r, m - r), cy: u(r, m - r), r, square: g.uniform() < 0.5 };
      if (placed.every((o) => Math.hypot(o.cx - s.cx, o.cy - s.cy) >= (o.r + s.r) * Math.SQRT2 + gap)) {
        placed.push(s);
        return s;
      }
    }
    return null;
  };
  // Beacons first (they must exist), then the tokens a gap away from them, then the textures.
  const redOf = [g.uniform() < 0.5, g.uniform() < 0.5]; // [white core, black core]
  const shade = [228, 28];
  let beacons: (Shape | null)[] = [];
  while (beacons.length < 2 || beacons.includes(null)) {
    placed.length = 0;
    beacons = [place(0.15 * m, 2), place(0.15 * m, 2)];
  }
  beacons.forEach((b, k) => {
    b!.square = false;
    fill(b!, (i, _x, _y, d) => {
      if (d > 0.45 * b!.r) put(i, shade[k], shade[k], shade[k], redOf[k] ? RING_RED : RING_BLUE);
      else if (redOf[k]) put(i, 210, 40, 40, RING_RED);
      else put(i, 40, 60, 210, RING_BLUE);
    });
  });
  const tokens = 2 + (g.uniform() < 0.5 ? 1 : 0);
  for (let t = 0; t < tokens; t++) {
    const s = place(u(0.07, 0.1) * m, 0.12 * m);
    if (!s) continue;
    const k = g.uniform() < 0.5 ? 0 : 1;
    fill(s, (i) => put(i, shade[k], shade[k], shade[k], redOf[k] ? TOKEN_RED : TOKEN_BLUE));
  }
  for (const cls of [STRIPES, CHECKS]) {
    const s = place(u(0.08, 0.11) * m, 2);
    if (s) texture(s, cls);
  }
  return { image, label, height: m, width: m, name: `retrieval-${seed}-${index}` };
}

/** The scenes as a dataset separation.ts can train and evaluate on (train and val: other seeds). */
export class RetrievalScenes extends SceneSet<data.RawSample> {
  constructor(length: number, seed: number, size: number) {
    super(`retrieval(seed ${seed}, ${length} x ${size})`, length, size, (index) => scene(seed, index, size));
  }
}
