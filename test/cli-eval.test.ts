// `ann-seg eval` and `ann-seg predict`, in-process through run(), on a tiny checkpoint.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { synthetic, SYNTHETIC_CLASSES, SYNTHETIC_PALETTE } from '../lib/data/synthetic.js';
import { models } from '../lib/index.js';
import { writeSafetensors } from '../lib/io/checkpoint.js';
import { classMetadata } from '../lib/train/class-names.js';
import { evaluate } from '../lib/train/evaluate.js';
import { capture } from './helpers/cli.js';


afterEach(() => vi.restoreAllMocks());

const dir = mkdtempSync(join(tmpdir(), 'ann-seg-cli-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = { depth: 18, width: 0.0625, keyChannels: 8, valueChannels: 8, contextChannels: 16, auxChannels: 8, seed: 5 } as const;
/** The embedded dataset's class count. */
const K = SYNTHETIC_CLASSES.length;
/** A checkpoint inside a run folder that trained on a small embedded split. */
const runDir = join(dir, 'run');
const ckptRun = join(runDir, 'checkpoints', 'last.safetensors');
const ckpt4 = join(dir, 'four.safetensors');
const named = join(dir, 'named.safetensors');

beforeAll(() => {
  mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
  writeFileSync(
    join(runDir, 'config.json'),
    JSON.stringify({ model: { ...CONFIG, numClasses: K }, data: 'synthetic', synthetic: { seed: 3, trainSize: 8, valSize: 3, size: 40 }, iters: 1, batch: 1, crop: 32, lr: 0.01 }),
  );
  using mRun = models.ANN({ ...CONFIG, numClasses: K });
  models.saveCheckpoint(ckptRun, mRun);
  using m4 = models.ANN({ ...CONFIG, numClasses: 4 });
  models.saveCheckpoint(ckpt4, m4);
  models.saveCheckpoint(named, m4, classMetadata({ classes: ['sky', 'road', 'car', 'tree'], palette: [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]] }));
});

/** A plain-layout folder (images/, masks/, classes.json) of two 40x48 scenes with 4 classes. */
async function plainFolder(name: string, maskValue: (x: number) => number): Promise<string> {
  const root = join(dir, name);
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'masks'), { recursive: true });
  writeFileSync(join(root, 'classes.json'), JSON.stringify({ classes: ['sky', 'road', 'car', 'tree'], palette: [[0, 0, 200], [90, 90, 90], [200, 0, 0], [0, 150, 0]] }));
  const scenes = synthetic({ split: 'val', length: 2, height: 40, width: 48 });
  for (let i = 0; i < 2; i++) {
    await sharp(scenes.sample(i).image, { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(join(root, 'images', `s${i}.png`));
    const mask = Buffer.from(Uint8Array.from({ length: 40 * 48 }, (_, p) => maskValue(p % 48)));
    await sharp(mask, { raw: { width: 48, height: 40, channels: 1 } }).toColourspace('b-w').png().toFile(join(root, 'masks', `s${i}.png`));
  }
  return root;
}

describe('ann-seg eval', () => {
  it("prints the per-class table, mIoU and pixel accuracy of the run's own val split, equal to evaluate()", async () => {
    const { code, out, err } = await capture(['eval', '--checkpoint', ckptRun, '--data', 'synthetic']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('synthetic(val, seed 3, 3 x 40x40)');
    for (const c of SYNTHETIC_CLASSES) expect(out).toMatch(new RegExp(`^${c}\\s`, 'm'));
    using model = models.loadCheckpoint(ckptRun);
    const r = await evaluate(model, synthetic({ split: 'val', seed: 3, length: 3, height: 40, width: 40 }));
    expect(out).toMatch(new RegExp(`^mIoU\\s+${(100 * r.miou).toFixed(2)}\\s`, 'm'));
    expect(out).toMatch(new RegExp(`^pixel acc\\.\\s+${(100 * r.pixelAccuracy).toFixed(2)}\\s`, 'm'));
    expect(out).toContain('3 images');
  });

  it('a run folder stands for its last checkpoint; --json writes the metrics and the confusion matrix', async () => {
    const json = join(dir, 'eval.json');
    const { code } = await capture(['eval', '--checkpoint', runDir, '--data', 'synthetic', '--mode', 'slide', '--crop', '32', '--stride', '16', '--flip', '--scales', '1,0.75', '--limit', '2', '--json', json]);
    expect(code).toBe(0);
    const r = JSON.parse(readFileSync(json, 'utf8'));
    expect(r.classes).toEqual([...SYNTHETIC_CLASSES]);
    expect(r.images).toBe(2);
    expect(r.inference).toEqual({ mode: 'slide', flip: true, scales: [1, 0.75], crop: 32, stride: 16 });
    expect(r.confusion.length).toBe(K);
    expect(r.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBeGreaterThan(0);
    expect(r.miou).toBeGreaterThanOrEqual(0);
  });

  it('evaluates a plain-layout folder with its own class names', async () => {
    const root = await plainFolder('plain', (x) => (x < 10 ? 255 : x % 4));
    const { code, out, err } = await capture(['eval', '--checkpoint', ckpt4, '--data', root]);
    expect(err).toBe('');
    expect(code).toBe(0);
    for (const c of ['sky', 'road', 'car', 'tree']) expect(out).toMatch(new RegExp(`^${c}\\s`, 'm'));
    // 255 is ignored: 38 of 48 columns are labelled.
    expect(out).toContain(`${(2 * 40 * 38).toLocaleString('en-US')} labelled pixels in 2 images`);
  });

  it('evaluates a Cityscapes-layout folder (19 classes, val split)', async () => {
    const root = join(dir, 'cityscapes');
    const img = join(root, 'leftImg8bit', 'val', 'aachen');
    const gt = join(root, 'gtFine', 'val', 'aachen');
    mkdirSync(img, { recursive: true });
    mkdirSync(gt, { recursive: true });
    const scene = synthetic({ split: 'val', length: 1, height: 40, width: 48 }).sample(0);
    await sharp(scene.image, { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(join(img, 'aachen_000000_000019_leftImg8bit.png'));
    const ids = Buffer.from(Uint8Array.from({ length: 40 * 48 }, (_, p) => (p % 19 === 0 ? 255 : p % 19)));
    await sharp(ids, { raw: { width: 48, height: 40, channels: 1 } }).toColourspace('b-w').png().toFile(join(gt, 'aachen_000000_000019_gtFine_labelTrainIds.png'));
    const ckpt19 = join(dir, 'nineteen.safetensors');
    {
      using m = models.ANN({ ...CONFIG, numClasses: 19 });
      models.saveCheckpoint(ckpt19, m);
    }
    const { code, out, err } = await capture(['eval', '--checkpoint', ckpt19, '--data', root, '--mode', 'slide', '--crop', '32']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/^bicycle\s/m);
    expect(out).toContain('1 images');
  });

  it('a mask with ids outside the class list is one line naming the file', async () => {
    const root = await plainFolder('bad-mask', (x) => (x === 5 ? 7 : 0));
    const { code, err } = await capture(['eval', '--checkpoint', ckpt4, '--data', root]);
    expect(code).toBe(2);
    expect(err.split('\n').length).toBe(1);
    expect(err).toMatch(/^ann-seg eval: .*s0\.png: class id 7/);
  });

  const bad: [string, string[], RegExp][] = [
    ['no checkpoint flag', ['--data', 'synthetic'], /--checkpoint is required/],
    ['a missing checkpoint', ['--checkpoint', join(dir, 'nope.safetensors'), '--data', 'synthetic'], /--checkpoint .*nope\.safetensors: no such file/],
    ['an unreadable checkpoint', ['--checkpoint', join(dir, 'garbage.safetensors'), '--data', 'synthetic'], /garbage\.safetensors: not a readable safetensors checkpoint/],
    ['a checkpoint of no ANN', ['--checkpoint', join(dir, 'other.safetensors'), '--data', 'synthetic'], /other\.safetensors: not an ann-seg model checkpoint \(no 'ann-seg.config'/],
    ['another class count than the data', ['--checkpoint', ckpt4, '--data', 'synthetic'], /predicts 4 classes, but synthetic\(val.*\) has \d+ \(background, /],
    ['bad --scales', ['--checkpoint', ckptRun, '--data', 'synthetic', '--scales', '0.75,,1'], /--scales must be a comma-separated list of positive numbers.*'0\.75,,1'/],
    ['negative --scales', ['--checkpoint', ckptRun, '--data', 'synthetic', '--scales', '1,-2'], /--scales must be/],
    ['a bad mode', ['--checkpoint', ckptRun, '--data', 'synthetic', '--mode', 'tiles'], /--mode must be 'whole' or 'slide', got 'tiles'/],
    ['slide without a crop', ['--checkpoint', ckptRun, '--data', 'synthetic', '--mode', 'slide'], /--mode slide needs --crop/],
    ['a crop without slide', ['--checkpoint', ckptRun, '--data', 'synthetic', '--crop', '32'], /--crop and --stride go with --mode slide/],
    ['a stride over the crop', ['--checkpoint', ckptRun, '--data', 'synthetic', '--mode', 'slide', '--crop', '16', '--stride', '20'], /stride \[20,20\] is larger than the crop/],
    ['no data', ['--checkpoint', ckptRun], /--data is required/],
    ['a missing data folder', ['--checkpoint', ckptRun, '--data', join(dir, 'no-such-folder')], /--data .*no-such-folder/],
    ['an unknown flag', ['--checkpoint', ckptRun, '--data', 'synthetic', '--flips'], /unknown option '--flips'/],
  ];
  it.each(bad)('%s is one clear line and exit status 2', async (_, args, message) => {
    writeFileSync(join(dir, 'garbage.safetensors'), 'not a safetensors file at all');
    writeSafetensors(join(dir, 'other.safetensors'), {});
    const { code, out, err } = await capture(['eval', ...args]);
    expect(code).toBe(2);
    expect(err.split('\n').length).toBe(1);
    expect(err).toMatch(/^ann-seg eval: /);
    expect(err).toMatch(message);
    expect(out).not.toMatch(/mIoU/);
  });

  it('--help describes the flags', async () => {
    const { code, out } = await capture(['eval', '--help']);
    expect(code).toBe(0);
    for (const f of ['--checkpoint', '--data', '--flip', '--scales', '--mode', '--crop', '--stride']) expect(out).toContain(f);
  });
});

describe('ann-seg predict', () => {
  const img = join(dir, 'scene.png');
  beforeAll(async () => {
    const s = synthetic({ split: 'val', length: 1, height: 40, width: 48 }).sample(0);
    await sharp(s.image, { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(img);
  });

  it('writes a colour-coded mask and an overlay per image, in the colours of the run it came from', async () => {
    const out = join(dir, 'pred');
    const { code, out: text, err } = await capture(['predict', '--checkpoint', ckptRun, img, '--out', out]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(text).toContain('[from the run config (embedded dataset)]');
    const mask = await sharp(join(out, 'scene_mask.png')).raw().toBuffer({ resolveWithObject: true });
    expect([mask.info.width, mask.info.height, mask.info.channels]).toEqual([48, 40, 3]);
    // Every mask pixel is one of the classes' colours, and the overlay differs from the image.
    const colours = new Set(SYNTHETIC_PALETTE.map((c) => c.join()));
    for (let i = 0; i < mask.data.length; i += 3) expect(colours.has([...mask.data.subarray(i, i + 3)].join())).toBe(true);
    const overlay = await sharp(join(out, 'scene_overlay.png')).raw().toBuffer();
    const image = await sharp(img).raw().toBuffer();
    expect(overlay.equals(image)).toBe(false);
  });

  it('takes class names and palette from the checkpoint metadata when it has them', async () => {
    const out = join(dir, 'pred-named');
    const { code, out: text } = await capture(['predict', '--checkpoint', named, img, '--out', out, '--flip']);
    expect(code).toBe(0);
    expect(text).toContain('sky rgb(1,2,3)');
    expect(text).toContain('[from checkpoint]');
    const mask = await sharp(join(out, 'scene_mask.png')).raw().toBuffer();
    const allowed = new Set(['1,2,3', '4,5,6', '7,8,9', '10,11,12']);
    for (let i = 0; i < mask.length; i += 3) expect(allowed.has([...mask.subarray(i, i + 3)].join())).toBe(true);
  });

  it("takes class names and palette from the run's data folder", async () => {
    const data = await plainFolder('plain-for-predict', (x) => x % 4);
    const run = join(dir, 'plain-run');
    mkdirSync(join(run, 'checkpoints'), { recursive: true });
    writeFileSync(join(run, 'config.json'), JSON.stringify({ model: { ...CONFIG, numClasses: 4 }, data, iters: 1, batch: 1, crop: 32, lr: 0.01 }));
    {
      using m = models.ANN({ ...CONFIG, numClasses: 4 });
      models.saveCheckpoint(join(run, 'checkpoints', 'last.safetensors'), m);
    }
    const { code, out: text } = await capture(['predict', '--checkpoint', run, img, '--out', join(dir, 'pred-plain')]);
    expect(code).toBe(0);
    expect(text).toContain('sky rgb(0,0,200), road rgb(90,90,90), car rgb(200,0,0), tree rgb(0,150,0)');
    expect(text).toContain(`[from the run's data (${data})]`);
  });

  it('an unreadable image, a missing one, or no --out is one clear line', async () => {
    const broken = join(dir, 'broken.png');
    writeFileSync(broken, 'this is not a PNG');
    for (const [args, message] of [
      [['--checkpoint', ckptRun, broken, '--out', join(dir, 'x')], /broken\.png: cannot read image/],
      [['--checkpoint', ckptRun, join(dir, 'absent.png'), '--out', join(dir, 'x')], /absent\.png: no such file/],
      [['--checkpoint', ckptRun, img], /--out is required/],
      [['--checkpoint', ckptRun, '--out', join(dir, 'x')], /no images given/],
      [['--checkpoint', ckptRun, img, img, '--out', join(dir, 'x')], /would both write/],
    ] as [string[], RegExp][]) {
      const { code, err } = await capture(['predict', ...args]);
      expect(code).toBe(2);
      expect(err.split('\n').length).toBe(1);
      expect(err).toMatch(message);
    }
  });
});
