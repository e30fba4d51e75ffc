// Draws docs/synthetic-samples.png: a few validation scenes of the embedded dataset (top row), their
// masks in the class palette (middle row) and one 64 x 64 training crop of each with its mask (bottom
// row: random scale, crop with ignore padding shown white, flip, brightness).
// Also docs/synthetic-strips.png: four validation strips of the 'strips' layout, each above its mask.
// Run: npx tsx scripts/synthetic-samples.ts [out.png] [strips.png]
import sharp from 'sharp';

import { augment, synthetic, SYNTHETIC_CLASSES, SYNTHETIC_PALETTE, type RawSample } from '../lib/data/index.js';
import { generatorAt } from '../lib/data/seed.js';

const COUNT = 5;
const ZOOM = 3;
const GAP = 6;
const out = process.argv[2] ?? 'docs/synthetic-samples.png';
const stripsOut = process.argv[3] ?? 'docs/synthetic-strips.png';

function colourMask(s: RawSample): Uint8Array {
  const rgb = new Uint8Array(s.height * s.width * 3);
  for (let i = 0; i < s.label.length; i++) {
    const c = s.label[i] === 255 ? [255, 255, 255] : SYNTHETIC_PALETTE[s.label[i]];
    rgb.set(c, 3 * i);
  }
  return rgb;
}

async function tile(rgb: Uint8Array, h: number, w: number, zoom = ZOOM): Promise<Buffer> {
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .resize(Math.round(w * zoom), Math.round(h * zoom), { kernel: 'nearest' })
    .png()
    .toBuffer();
}

const ds = synthetic({ split: 'val' });
const size = ds.height * ZOOM;
const rows = 2;
const cropRow = (size - GAP) / 2;
const legendHeight = 28;
const composites: sharp.OverlayOptions[] = [];
for (let k = 0; k < COUNT; k++) {
  const s = ds.sample(k);
  const crop = augment(s, [64, 64], generatorAt(7, 4, k));
  const left = GAP + k * (size + GAP);
  composites.push({ input: await tile(s.image, s.height, s.width), left, top: GAP });
  composites.push({ input: await tile(colourMask(s), s.height, s.width), left, top: 2 * GAP + size });
  const half = (size - GAP) / 2 / 64;
  composites.push({ input: await tile(crop.image, 64, 64, half), left, top: 3 * GAP + 2 * size });
  composites.push({ input: await tile(colourMask(crop), 64, 64, half), left: left + (size + GAP) / 2, top: 3 * GAP + 2 * size });
}
const width = GAP + COUNT * (size + GAP);
const height = 4 * GAP + rows * size + cropRow + legendHeight;
const legend = SYNTHETIC_CLASSES.map((name, c) => {
  const x = 10 + c * 150;
  const [r, g, b] = SYNTHETIC_PALETTE[c];
  return `<rect x="${x}" y="6" width="16" height="16" fill="rgb(${r},${g},${b})"/><text x="${x + 22}" y="19" font-family="sans-serif" font-size="14">${name}</text>`;
}).join('');
const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${legendHeight}"><rect width="100%" height="100%" fill="white"/>${legend}</svg>`);
composites.push({ input: svg, left: 0, top: 4 * GAP + rows * size + cropRow });
await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
  .composite(composites)
  .png()
  .toFile(out);
console.log(`wrote ${out} (${width}x${height})`);

const strips = synthetic({ layout: 'strips', split: 'val', length: 4 });
const STRIP_ZOOM = 1.5;
const [sh, sw] = [strips.height * STRIP_ZOOM, strips.width * STRIP_ZOOM];
const stripTiles: sharp.OverlayOptions[] = [];
for (let k = 0; k < strips.length; k++) {
  const s = strips.sample(k);
  const top = GAP + k * (2 * sh + 3 * GAP);
  stripTiles.push({ input: await tile(s.image, s.height, s.width, STRIP_ZOOM), left: GAP, top });
  stripTiles.push({ input: await tile(colourMask(s), s.height, s.width, STRIP_ZOOM), left: GAP, top: top + sh + GAP });
}
const stripsHeight = GAP + strips.length * (2 * sh + 3 * GAP);
await sharp({ create: { width: sw + 2 * GAP, height: stripsHeight, channels: 3, background: { r: 255, g: 255, b: 255 } } })
  .composite(stripTiles)
  .png()
  .toFile(stripsOut);
console.log(`wrote ${stripsOut} (${sw + 2 * GAP}x${stripsHeight})`);
