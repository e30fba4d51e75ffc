// The examples run as a user runs them (npx tsx, a child process) with tiny iteration counts.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { data, models } from '../lib/index.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'ann-examples-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('examples', () => {
  it('train-synthetic.ts trains, evaluates and saves a checkpoint; predict.ts segments an image with it', async () => {
    const out = join(root, 'run');
    const train = await run('npx', ['tsx', 'examples/train-synthetic.ts', '--iters', '3', '--batch', '2', '--crop', '32', '--eval-every', '2', '--val', '2', '--size', '48', '--out', out]);
    expect(train.stdout).toMatch(/iter 2: val mIoU \d+\.\d+%/);
    expect(train.stdout).toMatch(/iter 3: val mIoU \d+\.\d+%/);
    const checkpoint = join(out, 'model.safetensors');
    expect(existsSync(checkpoint)).toBe(true);
    expect(models.readCheckpointConfig(checkpoint)).toMatchObject({ depth: 18, numClasses: data.SYNTHETIC_CLASSES.length });

    // An image of our own (48 x 40, not the training size) through predict.ts.
    const image = join(root, 'in.png');
    const rgb = Buffer.alloc(48 * 40 * 3, 0);
    for (let i = 0; i < rgb.length; i += 3) rgb[i] = (i / 3) % 48 < 24 ? 220 : 30;
    await sharp(rgb, { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(image);
    const mask = join(root, 'mask.png');
    const predict = await run('npx', ['tsx', 'examples/predict.ts', '--checkpoint', checkpoint, '--image', image, '--out', mask]);
    const counts = /pixels per class ([\d, ]+)/.exec(predict.stdout)?.[1].split(', ').map(Number);
    expect(counts?.reduce((a, b) => a + b, 0)).toBe(48 * 40);
    const meta = await sharp(mask).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([48, 40, 'png']);
    expect(existsSync(join(root, 'mask-overlay.png'))).toBe(true);
  }, 120000);
});
