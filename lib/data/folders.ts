// Datasets read from folders, decoded with sharp (libvips on libuv's threads, so decoding overlaps
// the training step). Two layouts, told apart by their folders:
//
//   Cityscapes   <root>/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png
//                <root>/gtFine/<split>/<city>/<stem>_gtFine_labelTrainIds.png   (19 classes, 255 ignored)
//   plain        <root>/classes.json   { "classes": ["sky", ...], "palette"?: [[r, g, b], ...] }
//                <root>/images/[<split>/]<stem>.png|.jpg|.jpeg|.webp|.tif|.tiff
//                <root>/masks/[<split>/]<stem>.png                             (ids 0..K-1, 255 ignored)
//
// Masks are 8-bit single-channel images of class ids; an RGB or palette mask is refused by name.
// Every file list is checked when the dataset opens (a missing mask is found before training
// starts); pixels are checked when an example is read.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';

import sharp, { type Metadata } from 'sharp';

import { IGNORE_INDEX } from './normalize.js';
import type { RawSample, RGB, SegDataset } from './types.js';

export const CITYSCAPES_CLASSES = [
  'road',
  'sidewalk',
  'building',
  'wall',
  'fence',
  'pole',
  'traffic light',
  'traffic sign',
  'vegetation',
  'terrain',
  'sky',
  'person',
  'rider',
  'car',
  'truck',
  'bus',
  'train',
  'motorcycle',
  'bicycle',
] as const;

export const CITYSCAPES_PALETTE: readonly RGB[] = [
  [128, 64, 128],
  [244, 35, 232],
  [70, 70, 70],
  [102, 102, 156],
  [190, 153, 153],
  [153, 153, 153],
  [250, 170, 30],
  [220, 220, 0],
  [107, 142, 35],
  [152, 251, 152],
  [70, 130, 180],
  [220, 20, 60],
  [255, 0, 0],
  [0, 0, 142],
  [0, 0, 70],
  [0, 60, 100],
  [0, 80, 100],
  [0, 0, 230],
  [119, 11, 32],
];

const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff'];

/** One example on disk. */
export interface FilePair {
  image: string;
  mask: string;
  name: string;
}

export interface OpenDatasetOptions {
  /** Cityscapes: a folder under leftImg8bit/ (default 'train'). Plain: images/<split>/ when it exists. */
  split?: string;
}

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function subdirs(path: string): string[] {
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Whether `c` is an [r, g, b] of integers 0..255 (palettes in class lists and checkpoints). */
export function isRGB(c: unknown): c is RGB {
  return Array.isArray(c) && c.length === 3 && c.every((v) => Number.isInteger(v) && v >= 0 && v <= 255);
}

function checkRGB(where: string, c: unknown): RGB {
  if (!isRGB(c))
    throw new Error(`${where} must be [r, g, b] with integers 0..255, got ${JSON.stringify(c)}`);
  return [c[0], c[1], c[2]];
}

/** A colour for class k when none is given: Cityscapes' for the first 19, then spread hues. */
function defaultColour(k: number): RGB {
  if (k < CITYSCAPES_PALETTE.length) return CITYSCAPES_PALETTE[k];
  const h = (k * 0.618033988749895) % 1;
  const f = (n: number) => Math.round(255 * Math.min(1, Math.max(0, Math.abs(((h * 6 + n) % 6) - 3) - 1)));
  return [f(0), f(4), f(2)];
}

/** Reads <root>/classes.json: { "classes": [names], "palette"?: [[r, g, b], ...] }. */
export function readClassList(file: string): { classes: string[]; palette: RGB[] } {
  if (!existsSync(file)) throw new Error(`${file}: missing (the plain layout needs a class list: { "classes": ["name", ...], "palette"?: [[r, g, b], ...] })`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const { classes, palette } = (json ?? {}) as { classes?: unknown; palette?: unknown };
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string' && c.length > 0))
    throw new Error(`${file}: "classes" must be a non-empty list of class names, got ${JSON.stringify(classes)}`);
  if (classes.length > IGNORE_INDEX) throw new Error(`${file}: ${classes.length} classes; at most ${IGNORE_INDEX} fit 8-bit masks (255 = ignore)`);
  if (palette !== undefined && (!Array.isArray(palette) || palette.length !== classes.length))
    throw new Error(`${file}: "palette" must list one [r, g, b] per class (${classes.length}), got ${Array.isArray(palette) ? palette.length : JSON.stringify(palette)}`);
  return {
    classes: classes as string[],
    palette: classes.map((_, k) => (palette ? checkRGB(`${file}: palette[${k}]`, (palette as unknown[])[k]) : defaultColour(k))),
  };
}

function imageFiles(dir: string, suffix = ''): string[] {
  return readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()) && f.endsWith(suffix) && !f.startsWith('.'))
    .sort();
}

function cityscapesPairs(root: string, split: string): FilePair[] {
  const imageRoot = join(root, 'leftImg8bit', split);
  const maskRoot = join(root, 'gtFine', split);
  if (!isDir(imageRoot)) throw new Error(`${imageRoot}: missing folder (splits in ${join(root, 'leftImg8bit')}: ${subdirs(join(root, 'leftImg8bit')).join(', ') || 'none'})`);
  if (!isDir(maskRoot)) throw new Error(`${maskRoot}: missing folder (Cityscapes masks: gtFine/${split}/<city>/*_gtFine_labelTrainIds.png)`);
  const pairs: FilePair[] = [];
  for (const city of subdirs(imageRoot))
    for (const file of imageFiles(join(imageRoot, city), '_leftImg8bit.png')) {
      const stem = file.slice(0, -'_leftImg8bit.png'.length);
      const mask = join(maskRoot, city, `${stem}_gtFine_labelTrainIds.png`);
      if (!existsSync(mask)) throw new Error(`${join(imageRoot, city, file)}: no mask ${mask} (make labelTrainIds with cityscapesscripts' createTrainIdLabelImgs)`);
      pairs.push({ image: join(imageRoot, city, file), mask, name: stem });
    }
  if (pairs.length === 0) throw new Error(`${imageRoot}: no images (expected <city>/*_leftImg8bit.png)`);
  return pairs;
}

function plainPairs(root: string, split: string | undefined): FilePair[] {
  let imageDir = join(root, 'images');
  let maskDir = join(root, 'masks');
  if (split !== undefined && isDir(join(imageDir, split))) {
    imageDir = join(imageDir, split);
    maskDir = join(maskDir, split);
  } else if (split !== undefined && subdirs(imageDir).length > 0) {
    throw new Error(`${join(imageDir, split)}: missing folder (splits in ${imageDir}: ${subdirs(imageDir).join(', ')})`);
  }
  if (!isDir(maskDir)) throw new Error(`${maskDir}: missing folder (the plain layout keeps masks/<stem>.png beside images/)`);
  const pairs = imageFiles(imageDir).map((file) => {
    const stem = basename(file, extname(file));
    const mask = join(maskDir, `${stem}.png`);
    if (!existsSync(mask)) throw new Error(`${join(imageDir, file)}: no mask ${mask}`);
    return { image: join(imageDir, file), mask, name: stem };
  });
  if (pairs.length === 0) throw new Error(`${imageDir}: no images (${IMAGE_EXTENSIONS.join(', ')})`);
  return pairs;
}

/** A dataset of image/mask file pairs; get() decodes both with sharp and checks them. */
export class FolderDataset implements SegDataset {
  readonly name: string;
  readonly classes: readonly string[];
  readonly palette: readonly RGB[];
  readonly layout: 'cityscapes' | 'plain';
  readonly files: readonly FilePair[];

  constructor(name: string, layout: 'cityscapes' | 'plain', files: FilePair[], classes: readonly string[], palette: readonly RGB[]) {
    this.name = name;
    this.layout = layout;
    this.files = files;
    this.classes = classes;
    this.palette = palette;
  }

  get length(): number {
    return this.files.length;
  }

  async get(index: number): Promise<RawSample> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.files.length)
      throw new Error(`${this.name}: index ${index} is out of range [0, ${this.files.length})`);
    const { image: imageFile, mask: maskFile, name } = this.files[index];
    const [image, mask] = await Promise.all([readImage(imageFile), readMask(maskFile)]);
    if (image.height !== mask.height || image.width !== mask.width)
      throw new Error(`${imageFile} is ${image.width}x${image.height} but its mask ${maskFile} is ${mask.width}x${mask.height}`);
    const K = this.classes.length;
    for (let i = 0; i < mask.data.length; i++) {
      const id = mask.data[i];
      if (id >= K && id !== IGNORE_INDEX)
        throw new Error(`${maskFile}: class id ${id} at (x ${i % mask.width}, y ${Math.floor(i / mask.width)}) is outside the ${K} classes (ids 0..${K - 1}, 255 = ignore)`);
    }
    return { image: image.data, label: mask.data, height: image.height, width: image.width, name };
  }
}

/** Decodes an image file to 8-bit RGB [H, W, 3] (alpha dropped, greyscale expanded). */
export async function readImage(file: string): Promise<{ data: Uint8Array; height: number; width: number }> {
  try {
    const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width };
  } catch (e) {
    throw new Error(`${file}: cannot read image (${(e as Error).message})`);
  }
}

/** Decodes a mask file: 8-bit, one channel of class ids [H, W]. */
export async function readMask(file: string): Promise<{ data: Uint8Array; height: number; width: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (e) {
    throw new Error(`${file}: cannot read mask (${(e as Error).message})`);
  }
  // The header decides: sharp's pipeline would turn a greyscale PNG into sRGB on its way out.
  if (meta.isPalette || meta.channels !== 1 || meta.depth !== 'uchar')
    throw new Error(
      `${file}: a mask must be an 8-bit single-channel image of class ids, got ${meta.isPalette ? 'a palette image' : `${meta.channels} channels`} (${meta.depth ?? '?'}); save it as 8-bit greyscale PNG`,
    );
  try {
    const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width };
  } catch (e) {
    throw new Error(`${file}: cannot read mask (${(e as Error).message})`);
  }
}

/** Which layout a folder holds, or an Error saying what was expected. */
export function detectLayout(root: string): 'cityscapes' | 'plain' {
  if (!existsSync(root)) throw new Error(`${root}: no such folder`);
  if (!isDir(root)) throw new Error(`${root}: not a folder`);
  if (isDir(join(root, 'leftImg8bit')) || isDir(join(root, 'gtFine'))) {
    for (const sub of ['leftImg8bit', 'gtFine']) if (!isDir(join(root, sub))) throw new Error(`${join(root, sub)}: missing folder (the Cityscapes layout needs leftImg8bit/ and gtFine/)`);
    return 'cityscapes';
  }
  if (isDir(join(root, 'images'))) return 'plain';
  throw new Error(`${root}: not a dataset folder (expected leftImg8bit/ + gtFine/ (Cityscapes) or images/ + masks/ + classes.json (plain))`);
}

/** Opens a dataset folder of either layout; file lists and the class list are checked here. */
export function openDataset(path: string, { split }: OpenDatasetOptions = {}): FolderDataset {
  if (typeof path !== 'string' || path.length === 0) throw new Error(`openDataset: expected a folder path, got ${JSON.stringify(path)}`);
  const root = resolve(path);
  const layout = detectLayout(root);
  if (layout === 'cityscapes') {
    const s = split ?? 'train';
    return new FolderDataset(`cityscapes(${root}, ${s})`, layout, cityscapesPairs(root, s), CITYSCAPES_CLASSES, CITYSCAPES_PALETTE);
  }
  const { classes, palette } = readClassList(join(root, 'classes.json'));
  const files = plainPairs(root, split);
  return new FolderDataset(`${root}${split !== undefined && files[0].image.includes(join('images', split)) ? ` (${split})` : ''}`, layout, files, classes, palette);
}
