// lib/data/folders.ts: both folder layouts, built on the fly with sharp, and every bad input.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { data } from '../lib/index.js';

const { openDataset, DataLoader, CITYSCAPES_CLASSES } = data;
const tmp = mkdtempSync(join(tmpdir(), 'ann-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let folderCount = 0;
function folder(): string {
  const dir = join(tmp, `d${folderCount++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A deterministic RGB image [h, w, 3] that differs per seed. */
function rgb(h: number, w: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 7 + seed * 31) % 256);
}

function ids(h: number, w: number, classes: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: h * w }, (_, i) => ((i + seed) % 5 === 0 ? 255 : (i * 3 + seed) % classes));
}

async function writePng(file: string, bytes: Uint8Array, h: number, w: number, channels: 1 | 3): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  const raw = sharp(bytes, { raw: { width: w, height: h, channels } });
  // Without b-w, sharp writes one-channel input as an RGB PNG.
  await (channels === 1 ? raw.toColourspace('b-w') : raw).png().toFile(file);
}

async function cityscapes(root: string): Promise<void> {
  const items: [string, string, number][] = [
    ['train', 'aachen', 1],
    ['train', 'aachen', 2],
    ['train', 'bochum', 3],
    ['val', 'lindau', 4],
  ];
  for (const [split, city, n] of items) {
    const stem = `${city}_000000_00000${n}`;
    await writePng(join(root, 'leftImg8bit', split, city, `${stem}_leftImg8bit.png`), rgb(12, 16, n), 12, 16, 3);
    await writePng(join(root, 'gtFine', split, city, `${stem}_gtFine_labelTrainIds.png`), ids(12, 16, 19, n), 12, 16, 1);
  }
}

async function plain(root: string, classes = ['sky', 'road', 'car']): Promise<void> {
  writeFileSync(join(root, 'classes.json'), JSON.stringify({ classes, palette: classes.map((_, k) => [k * 50, 0, 255 - k * 50]) }));
  for (const n of [1, 2]) {
    await writePng(join(root, 'images', `img${n}.png`), rgb(10, 14, n), 10, 14, 3);
    await writePng(join(root, 'masks', `img${n}.png`), ids(10, 14, classes.length, n), 10, 14, 1);
  }
}

describe('Cityscapes layout', () => {
  it('lists <split>/<city>/*_leftImg8bit.png with their labelTrainIds masks, sorted, with 19 classes', async () => {
    const root = folder();
    await cityscapes(root);
    const train = openDataset(root);
    expect(train.layout).toBe('cityscapes');
    expect(train.length).toBe(3);
    expect(train.classes).toEqual(CITYSCAPES_CLASSES);
    expect(train.classes).toHaveLength(19);
    expect(train.palette[0]).toEqual([128, 64, 128]);
    expect(train.files.map((f) => f.name)).toEqual(['aachen_000000_000001', 'aachen_000000_000002', 'bochum_000000_000003']);
    const s = await train.get(2);
    expect([s.height, s.width, s.name]).toEqual([12, 16, 'bochum_000000_000003']);
    expect([...s.image]).toEqual([...rgb(12, 16, 3)]);
    expect([...s.label]).toEqual([...ids(12, 16, 19, 3)]);
    const val = openDataset(root, { split: 'val' });
    expect(val.files.map((f) => f.name)).toEqual(['lindau_000000_000004']);
  });

  it('says which split is missing and which exist', async () => {
    const root = folder();
    await cityscapes(root);
    expect(() => openDataset(root, { split: 'test' })).toThrow(`${join(root, 'leftImg8bit', 'test')}: missing folder (splits in ${join(root, 'leftImg8bit')}: train, val)`);
  });

  it('names an image without its mask', async () => {
    const root = folder();
    await cityscapes(root);
    await writePng(join(root, 'leftImg8bit', 'train', 'aachen', 'aachen_000000_000009_leftImg8bit.png'), rgb(12, 16, 9), 12, 16, 3);
    expect(() => openDataset(root)).toThrow(
      `${join(root, 'leftImg8bit', 'train', 'aachen', 'aachen_000000_000009_leftImg8bit.png')}: no mask ${join(root, 'gtFine', 'train', 'aachen', 'aachen_000000_000009_gtFine_labelTrainIds.png')}`,
    );
  });

  it('names a missing gtFine folder', () => {
    const root = folder();
    mkdirSync(join(root, 'leftImg8bit', 'train'), { recursive: true });
    expect(() => openDataset(root)).toThrow(`${join(root, 'gtFine')}: missing folder (the Cityscapes layout needs leftImg8bit/ and gtFine/)`);
  });
});

describe('plain layout', () => {
  it('reads images/ and masks/ with classes.json (names and palette)', async () => {
    const root = folder();
    await plain(root);
    const ds = openDataset(root);
    expect([ds.layout, ds.length, ds.classes, ds.palette[1]]).toEqual(['plain', 2, ['sky', 'road', 'car'], [50, 0, 205]]);
    const s = await ds.get(1);
    expect([s.name, s.height, s.width]).toEqual(['img2', 10, 14]);
    expect([...s.image]).toEqual([...rgb(10, 14, 2)]);
    expect([...s.label]).toEqual([...ids(10, 14, 3, 2)]);
  });

  it('uses images/<split>/ and masks/<split>/ when they exist, and gives default colours without a palette', async () => {
    const root = folder();
    writeFileSync(join(root, 'classes.json'), JSON.stringify({ classes: ['a', 'b'] }));
    for (const split of ['train', 'val']) {
      await writePng(join(root, 'images', split, `${split}0.png`), rgb(8, 8, 1), 8, 8, 3);
      await writePng(join(root, 'masks', split, `${split}0.png`), ids(8, 8, 2, 1), 8, 8, 1);
    }
    const val = openDataset(root, { split: 'val' });
    expect(val.files.map((f) => f.name)).toEqual(['val0']);
    expect(val.palette).toHaveLength(2);
    expect(() => openDataset(root, { split: 'test' })).toThrow(`${join(root, 'images', 'test')}: missing folder (splits in ${join(root, 'images')}: train, val)`);
  });

  it('reads a greyscale image as RGB and drops alpha; JPEG is accepted', async () => {
    const root = folder();
    await plain(root);
    await writePng(join(root, 'images', 'img1.png'), Uint8Array.from({ length: 10 * 14 }, (_, i) => i), 10, 14, 1);
    await sharp(Buffer.from(rgb(10, 14, 5)), { raw: { width: 14, height: 10, channels: 3 } }).jpeg().toFile(join(root, 'images', 'img3.jpg'));
    await writePng(join(root, 'masks', 'img3.png'), ids(10, 14, 3, 3), 10, 14, 1);
    const ds = openDataset(root);
    const s = await ds.get(0);
    expect([s.image[30], s.image[31], s.image[32]]).toEqual([10, 10, 10]);
    const j = await ds.get(2);
    expect([j.name, j.image.length]).toEqual(['img3', 10 * 14 * 3]);
  });

  it('trains through the DataLoader', async () => {
    const root = folder();
    await plain(root);
    const loader = new DataLoader(openDataset(root), { batchSize: 2, crop: 16, seed: 1 });
    const b = await loader.next();
    expect([b.image.shape, b.label.shape, [...b.names].sort()]).toEqual([[2, 3, 16, 16], [2, 16, 16], ['img1', 'img2']]);
    b.dispose();
    await loader.close();
  });
});

describe('bad folders and files', () => {
  it('names a missing folder and a folder of neither layout', () => {
    const missing = join(tmp, 'nowhere');
    expect(() => openDataset(missing)).toThrow(`${missing}: no such folder`);
    const empty = folder();
    expect(() => openDataset(empty)).toThrow(`${empty}: not a dataset folder (expected leftImg8bit/ + gtFine/ (Cityscapes) or images/ + masks/ + classes.json (plain))`);
  });

  it('names a missing or bad classes.json', async () => {
    const root = folder();
    await plain(root);
    rmSync(join(root, 'classes.json'));
    expect(() => openDataset(root)).toThrow(`${join(root, 'classes.json')}: missing (the plain layout needs a class list`);
    writeFileSync(join(root, 'classes.json'), '{ "classes": [');
    expect(() => openDataset(root)).toThrow(`${join(root, 'classes.json')}: not valid JSON`);
    writeFileSync(join(root, 'classes.json'), JSON.stringify({ classes: [] }));
    expect(() => openDataset(root)).toThrow(`${join(root, 'classes.json')}: "classes" must be a non-empty list of class names, got []`);
    writeFileSync(join(root, 'classes.json'), JSON.stringify({ classes: ['a', 'b'], palette: [[0, 0, 0]] }));
    expect(() => openDataset(root)).toThrow(`${join(root, 'classes.json')}: "palette" must list one [r, g, b] per class (2), got 1`);
    writeFileSync(join(root, 'classes.json'), JSON.stringify({ classes: ['a', 'b'], palette: [[0, 0, 0], [0, 300, 0]] }));
    expect(() => openDataset(root)).toThrow(`${join(root, 'classes.json')}: palette[1] must be [r, g, b] with integers 0..255, got [0,300,0]`);
  });

  it('names a folder without images, and images without masks/', async () => {
    const root = folder();
    writeFileSync(join(root, 'classes.json'), JSON.stringify({ classes: ['a'] }));
    mkdirSync(join(root, 'images'));
    mkdirSync(join(root, 'masks'));
    expect(() => openDataset(root)).toThrow(`${join(root, 'images')}: no images (.png, .jpg, .jpeg, .webp, .tif, .tiff)`);
    rmSync(join(root, 'masks'), { recursive: true });
    expect(() => openDataset(root)).toThrow(`${join(root, 'masks')}: missing folder`);
  });

  it('names an image without its mask', async () => {
    const root = folder();
    await plain(root);
    await writePng(join(root, 'images', 'lonely.png'), rgb(10, 14, 1), 10, 14, 3);
    expect(() => openDataset(root)).toThrow(`${join(root, 'images', 'lonely.png')}: no mask ${join(root, 'masks', 'lonely.png')}`);
  });

  it('names an unreadable image and an unreadable mask', async () => {
    const root = folder();
    await plain(root);
    writeFileSync(join(root, 'images', 'img1.png'), 'not a png');
    await expect(openDataset(root).get(0)).rejects.toThrow(`${join(root, 'images', 'img1.png')}: cannot read image (`);
    writeFileSync(join(root, 'masks', 'img2.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await expect(openDataset(root).get(1)).rejects.toThrow(`${join(root, 'masks', 'img2.png')}: cannot read mask (`);
  });

  it('names an image and mask of different sizes', async () => {
    const root = folder();
    await plain(root);
    await writePng(join(root, 'masks', 'img1.png'), ids(10, 13, 3, 1), 10, 13, 1);
    await expect(openDataset(root).get(0)).rejects.toThrow(`${join(root, 'images', 'img1.png')} is 14x10 but its mask ${join(root, 'masks', 'img1.png')} is 13x10`);
  });

  it('names a mask id outside the class list: file, id, place and class count', async () => {
    const root = folder();
    await plain(root);
    const bad = ids(10, 14, 3, 1);
    bad[2 * 14 + 5] = 7;
    await writePng(join(root, 'masks', 'img1.png'), bad, 10, 14, 1);
    await expect(openDataset(root).get(0)).rejects.toThrow(`${join(root, 'masks', 'img1.png')}: class id 7 at (x 5, y 2) is outside the 3 classes (ids 0..2, 255 = ignore)`);
  });

  it('refuses an RGB mask, naming the file', async () => {
    const root = folder();
    await plain(root);
    await writePng(join(root, 'masks', 'img2.png'), rgb(10, 14, 1), 10, 14, 3);
    await expect(openDataset(root).get(1)).rejects.toThrow(
      `${join(root, 'masks', 'img2.png')}: a mask must be an 8-bit single-channel image of class ids, got 3 channels (uchar); save it as 8-bit greyscale PNG`,
    );
  });

  it('refuses a palette mask and a 16-bit mask, naming the file', async () => {
    const root = folder();
    await plain(root);
    const file = join(root, 'masks', 'img1.png');
    await sharp(Buffer.from(rgb(10, 14, 1)), { raw: { width: 14, height: 10, channels: 3 } }).png({ palette: true }).toFile(file);
    await expect(openDataset(root).get(0)).rejects.toThrow(`${file}: a mask must be an 8-bit single-channel image of class ids, got a palette image`);
    await sharp(Buffer.from(ids(10, 14, 3, 1)), { raw: { width: 14, height: 10, channels: 1 } }).toColourspace('grey16').png().toFile(file);
    await expect(openDataset(root).get(0)).rejects.toThrow(`${file}: a mask must be an 8-bit single-channel image of class ids, got 1 channels (ushort)`);
  });

  it('refuses an index out of range', async () => {
    const root = folder();
    await plain(root);
    await expect(openDataset(root).get(2)).rejects.toThrow('index 2 is out of range [0, 2)');
  });
});
