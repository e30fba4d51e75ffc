// Class masks as pictures: a colour per class, and the image blended with it. Shared by `predict`,
// the prediction grid of plots.ts and the run report, so a class looks the same everywhere.
import sharp from 'sharp';

import { IGNORE_INDEX } from '../data/normalize.js';

import type { RGB } from '../data/types.js';

export type { RGB };
export type Palette = readonly RGB[];

/**
 * A fixed palette for when neither the dataset nor the checkpoint names colours: PASCAL VOC's
 * bit-interleaved colour map (class 0 black, then well-separated hues), for any class count.
 */
export function defaultPalette(numClasses: number): RGB[] {
  const out: RGB[] = [];
  for (let c = 0; c < numClasses; c++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let bit = 0, id = c; bit < 8 && id > 0; bit++, id >>= 3) {
      r |= (id & 1) << (7 - bit);
      g |= ((id >> 1) & 1) << (7 - bit);
      b |= ((id >> 2) & 1) << (7 - bit);
    }
    out.push([r, g, b]);
  }
  return out;
}

/** The colour of ignored pixels in a colourised mask (PASCAL VOC's 'void' cream, unlike any class of the default palette). */
const IGNORE_COLOUR: RGB = [224, 224, 192];

function colourOf(palette: Palette, id: number, where: string): RGB {
  if (id === IGNORE_INDEX) return IGNORE_COLOUR;
  const c = palette[id];
  if (c === undefined) throw new Error(`${where}: class id ${id} has no colour (palette of ${palette.length} classes)`);
  return c;
}

/** A mask [H, W] of class ids as RGB [H, W, 3]; 255 (ignore) is cream. */
export function colorize(mask: ArrayLike<number>, palette: Palette): Uint8Array {
  const out = new Uint8Array(mask.length * 3);
  for (let i = 0; i < mask.length; i++) out.set(colourOf(palette, mask[i], 'colorize'), i * 3);
  return out;
}

/**
 * The image (RGB [H, W, 3]) blended with the mask's colours: (1 - alpha) * image + alpha * colour;
 * ignored pixels keep the image.
 */
export function overlay(image: Uint8Array, mask: ArrayLike<number>, palette: Palette, alpha = 0.5): Uint8Array {
  if (image.length !== mask.length * 3)
    throw new Error(`overlay: image of ${image.length} bytes is not RGB for a mask of ${mask.length} pixels`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`overlay: alpha must be in [0, 1], got ${alpha}`);
  const out = new Uint8Array(image.length);
  for (let i = 0; i < mask.length; i++) {
    const id = mask[i];
    const c = colourOf(palette, id, 'overlay');
    const a = id === IGNORE_INDEX ? 0 : alpha;
    for (let ch = 0; ch < 3; ch++) out[i * 3 + ch] = Math.round((1 - a) * image[i * 3 + ch] + a * c[ch]);
  }
  return out;
}

/**
 * RGB [H, W, 3] bytes as a PNG; `scale` > 1 enlarges with nearest-neighbour sampling (class
 * edges stay sharp in small synthetic images).
 */
export async function encodePng(rgb: Uint8Array, width: number, height: number, scale = 1): Promise<Buffer> {
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${rgb.length} bytes is not RGB ${width}x${height}`);
  let img = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (scale !== 1) img = img.resize(Math.round(width * scale), Math.round(height * scale), { kernel: 'nearest' });
  return img.png().toBuffer();
}
