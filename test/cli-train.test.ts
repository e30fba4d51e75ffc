// `ann-seg train` and `ann-seg ablate` in-process on tiny presets: the run folder they write, what they
// print, and one clear line (exit 2) for each kind of bad input.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import sharp from 'sharp';

import { data, train as T } from '../lib/index.js';
import { capture } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'ann-cli-train-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


describe('ann-seg train', () => {
  const out = join(root, 'tiny');

  it('trains the tiny preset, prints progress lines, the validation mIoU and where everything is', async () => {
    const { code, out: text, err } = await capture(['train', '--preset', 'tiny', '--iters', '4', '--out', out]);
    expect(code, err).toBe(0);
    expect(text).toMatch(/iter 4\/4 loss \d+\.\d+ .* it\/s/);
    expect(text).toMatch(/validation mIoU \d+\.\d+% \(pixel accuracy \d+\.\d+%\)/);
    expect(text).toContain(`checkpoint: ${join(out, 'checkpoints', 'last.safetensors')}`);
    expect(text).toContain(join(out, 'plots', 'loss.svg'));
    expect(text).toContain(`report:     ${join(out, 'index.html')}`);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<svg');
    const log = T.readLog(join(out, 'log.jsonl'));
    expect(log.filter((l) => l.type === 'train').length).toBe(4);
    const ev = log.filter((l) => l.type === 'eval');
    expect(ev.map((l) => l.iter)).toEqual([4]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.miou).toBe((ev[0] as T.EvalLogLine).miou);
    expect(existsSync(join(out, 'checkpoints', 'iter-2.safetensors'))).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ preset: 'tiny', iters: 4, model: { numClasses: data.SYNTHETIC_CLASSES.length, variant: 'full' } });
  });

  it('--resume of a finished run does nothing more; --resume with other settings is refused', async () => {
    const again = await capture(['train', '--out', out, '--resume']);
    expect(again.code, again.err).toBe(0);
    expect(T.readLog(join(out, 'log.jsonl')).filter((l) => l.type === 'train').length).toBe(4);
    const other = await capture(['train', '--out', out, '--resume', '--preset', 'tiny', '--variant', 'baseline']);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/^ann-seg train: --resume: the checkpoint in .* was trained with another model/);
  });

  it('--resume refuses a checkpoint of another model', async () => {
    const base = join(root, 'base');
    expect((await capture(['train', '--preset', 'tiny', '--iters', '2', '--variant', 'baseline', '--out', base])).code).toBe(0);
    const mixed = join(root, 'mixed');
    mkdirSync(join(mixed, 'checkpoints'), { recursive: true });
    copyFileSync(join(base, 'checkpoints', 'last.safetensors'), join(mixed, 'checkpoints', 'last.safetensors'));
    copyFileSync(join(out, 'checkpoints', 'last.optim.safetensors'), join(mixed, 'checkpoints', 'last.optim.safetensors'));
    const r = await capture(['train', '--out', mixed, '--resume']);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--resume: .*(do not belong together|does not match)/);
  });

  const config = (name: string, text: string) => {
    const p = join(root, name);
    writeFileSync(p, text);
    return p;
  };
  const bad: [string, string[], RegExp][] = [
    ['an unknown preset', ['--preset', 'huge'], /unknown preset 'huge' \(expected one of small, context, tiny, official\)/],
    ['a bad number', ['--iters', 'ten'], /--iters must be a number, got 'ten'/],
    ['a fractional batch', ['--batch', '2.5'], /--batch must be an integer, got 2.5/],
    ['a missing data folder', ['--data', join(root, 'nowhere')], /data folder '.*nowhere' does not exist/],
    ['an unreadable config file', ['--config', join(root, 'none.json')], /cannot read config file '.*none.json': ENOENT/],
    ['a config file that is not JSON', ['--config', config('bad.json', '{ iters: 3')], /config file '.*bad.json' is not valid JSON/],
    ['a config with an unknown field', ['--config', config('field.json', '{"preset": "tiny", "itres": 3}')], /field.json: train config: unknown field 'itres'/],
    ['a config with a bad model', ['--config', config('model.json', '{"preset": "tiny", "model": {"depth": 19}}')], /train config: model: ANN config: depth must be one of/],
    ['--resume with nothing to resume', ['--resume', '--out', join(root, 'empty')], /--resume: no checkpoint to resume from: .*last.safetensors does not exist/],
    ['a crop that is not a side or HxW', ['--crop', '64x'], /--crop must be a side or HEIGHTxWIDTH, integers of at least 8 \(e.g. 64 or 64x512\), got '64x'/],
    ['a crop side below 8', ['--crop', '64x4'], /--crop must be a side or HEIGHTxWIDTH/],
    ['a config with a bad crop pair', ['--config', config('crop.json', '{"preset": "tiny", "crop": [32, 4]}')], /train config: crop must be an integer >= 8 or \[height, width\] of them, got \[32,4\]/],
    ['a config with a bad augmentation', ['--config', config('aug.json', '{"preset": "tiny", "augment": {"scale": [2, 1]}}')], /train config: augment: scale must be \[min, max\] with 0 < min <= max, got \[2,1\]/],
    ['a config with an unknown layout', ['--config', config('layout.json', '{"preset": "tiny", "synthetic": {"seed": 0, "trainSize": 4, "valSize": 2, "size": 48, "layout": "rings"}}')], /train config: synthetic.layout must be 'scenes' or 'strips', got "rings"/],
    ['both --config and --preset', ['--config', 'x.json', '--preset', 'tiny'], /give --config or --preset, not both/],
  ];
  it('trains on strips with a [height, width] crop and its own augmentation, from a config or the flags', async () => {
    const dir = join(root, 'strips');
    const file = config(
      'strips.json',
      JSON.stringify({
        preset: 'context',
        iters: 2,
        batch: 2,
        synthetic: { seed: 0, trainSize: 4, valSize: 1, size: 32, width: 128, layout: 'strips' },
        crop: [32, 128],
        evalEvery: 0,
        checkpointEvery: 0,
      }),
    );
    const r = await capture(['train', '--config', file, '--crop', '32x96', '--out', dir]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('synthetic(strips, train, seed 0, 4 x 32x128) | batch 2, crop 32x96, 2 iterations');
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(saved).toMatchObject({ crop: [32, 96], augment: { scale: [1, 1] }, synthetic: { layout: 'strips', width: 128 } });
  }, 60000);

  for (const [what, args, message] of bad)
    it(`exits 2 with one line for ${what}`, async () => {
      const r = await capture(['train', ...args]);
      expect(r.code).toBe(2);
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).toMatch(message);
    });
});

async function png(path: string, width: number, height: number, channels: 1 | 3, fill: (i: number) => number) {
  mkdirSync(join(path, '..'), { recursive: true });
  const buf = Buffer.alloc(width * height * channels);
  for (let i = 0; i < buf.length; i++) buf[i] = fill(i);
  const img = sharp(buf, { raw: { width, height, channels } });
  await (channels === 1 ? img.toColourspace('b-w') : img).png().toFile(path);
}

describe('ann-seg train on dataset folders', () => {
  it('trains on a plain layout (images/ + masks/ + classes.json) with its class count', async () => {
    const dir = join(root, 'plain');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'classes.json'), JSON.stringify({ classes: ['sky', 'road', 'car'] }));
    for (const split of ['train', 'val'])
      for (const n of [0, 1]) {
        await png(join(dir, 'images', split, `im${n}.png`), 40, 36, 3, (i) => (i * 7 + n * 50) % 256);
        await png(join(dir, 'masks', split, `im${n}.png`), 40, 36, 1, (i) => (i % 40 < 13 ? 0 : i % 40 < 26 ? 1 : i % 97 === 0 ? 255 : 2));
      }
    const out = join(root, 'plain-run');
    const r = await capture(['train', '--preset', 'tiny', '--data', dir, '--iters', '2', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/validation mIoU \d+\.\d+%/);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model.numClasses).toBe(3);
  });

  it('trains on the Cityscapes layout (leftImg8bit/ + gtFine/ labelTrainIds, 19 classes)', async () => {
    const dir = join(root, 'cityscapes');
    for (const split of ['train', 'val']) {
      await png(join(dir, 'leftImg8bit', split, 'aachen', `aachen_000000_000019_leftImg8bit.png`), 40, 32, 3, (i) => (i * 13) % 256);
      await png(join(dir, 'gtFine', split, 'aachen', `aachen_000000_000019_gtFine_labelTrainIds.png`), 40, 32, 1, (i) => (i % 40 < 20 ? 0 : i % 5 === 0 ? 255 : 13));
    }
    const out = join(root, 'cityscapes-run');
    const r = await capture(['train', '--preset', 'tiny', '--data', dir, '--iters', '2', '--batch', '1', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model.numClasses).toBe(19);
  });

  it('exits 1 with one line naming the file when a mask holds a class id outside the list', async () => {
    const dir = join(root, 'bad-ids');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'classes.json'), JSON.stringify({ classes: ['a', 'b'] }));
    await png(join(dir, 'images', 'x.png'), 40, 40, 3, (i) => i % 256);
    await png(join(dir, 'masks', 'x.png'), 40, 40, 1, (i) => (i === 5 ? 7 : 1));
    const r = await capture(['train', '--preset', 'tiny', '--data', dir, '--iters', '1', '--batch', '1', '--out', join(root, 'bad-ids-run')]);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^ann-seg train: .*masks\/x.png.*7/);
  });

  it('exits 2 with one line for a folder that is not a dataset', async () => {
    const dir = join(root, 'not-a-dataset');
    mkdirSync(dir, { recursive: true });
    const r = await capture(['train', '--preset', 'tiny', '--data', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^ann-seg train: .*not-a-dataset: not a dataset folder/);
  });
});

describe('ann-seg ablate', () => {
  it('trains every Table 6 variant with each seed and writes markdown, JSON and a chart', async () => {
    const out = join(root, 'ablate');
    const { code, out: text, err } = await capture(['ablate', '--table', '6', '--preset', 'tiny', '--iters', '1', '--seeds', '2', '--val', '2', '--out', out]);
    expect(code, err).toBe(0);
    const rows = JSON.parse(readFileSync(join(out, 'table6.json'), 'utf8')) as T.AblationRow[];
    expect(rows.map((r) => r.name)).toEqual(['baseline', 'nb', 'apnb', 'common-fusion', 'fnb', 'afnb', 'common-fusion+nb', 'fnb+nb', 'full']);
    for (const r of rows) {
      expect(r.seeds).toEqual([0, 1]);
      expect(r.mious).toHaveLength(2);
      const mean = (r.mious[0] + r.mious[1]) / 2;
      expect(r.miouMean).toBeCloseTo(mean, 12);
      expect(r.miouStd).toBeCloseTo(Math.abs(r.mious[0] - r.mious[1]) / Math.SQRT2, 12);
      expect(r.gflops).toBeGreaterThan(0);
    }
    // More blocks, more parameters and FLOPs than the baseline.
    expect(rows[8].params).toBeGreaterThan(rows[0].params);
    expect(rows[8].gflops).toBeGreaterThan(rows[0].gflops);
    const md = readFileSync(join(out, 'table6.md'), 'utf8');
    expect(md).toContain('Command: `ann-seg ablate --table 6 --iters 1 --seeds 2 --val 2 --preset tiny`');
    expect(md).toContain('| + AFNB + APNB (Full) |');
    expect(readFileSync(join(out, 'table6.svg'), 'utf8')).toContain('<svg');
    expect(existsSync(join(out, 'table6.png'))).toBe(true);
    expect(text).toContain('[18/18] full seed 1');
  }, 120000);

  it("trains Table 6 on the 'context' strips by default", async () => {
    const out = join(root, 'ablate-context');
    const { code, err } = await capture(['ablate', '--table', '6', '--iters', '1', '--seeds', '1', '--val', '1', '--rows', 'baseline', '--out', out]);
    expect(code, err).toBe(0);
    const md = readFileSync(join(out, 'table6.md'), 'utf8');
    expect(md).toContain('Command: `ann-seg ablate --table 6 --iters 1 --seeds 1 --val 1 --rows baseline`');
    expect(md).toContain("the 'context' preset (ResNet-18 at width 0.25), 1 iterations, batch 8, crop 64x512");
  }, 60000);

  it('exits 2 with one line for a bad table, and for Table 7 at a crop too small for its anchors', async () => {
    const t = await capture(['ablate', '--table', '8']);
    expect([t.code, t.err]).toEqual([2, 'ann-seg ablate: --table must be 6 or 7, got 8']);
    const s = await capture(['ablate', '--table', '7', '--preset', 'tiny']);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/Table 7's plain sampling takes 36 anchors, but preset 'tiny' crops 32 px/);
    const r = await capture(['ablate', '--table', '6', '--preset', 'tiny', '--rows', 'baseline,fulll']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "ann-seg ablate: --rows: Table 6 has no row 'fulll' (expected one of baseline, nb, apnb, common-fusion, fnb, afnb, common-fusion+nb, fnb+nb, full)",
    );
  });

  it('--rows trains only the named rows, in the table order, with per-class IoU', async () => {
    const out = join(root, 'ablate-rows');
    const { code, err } = await capture(['ablate', '--table', '6', '--preset', 'tiny', '--iters', '1', '--seeds', '1', '--val', '2', '--rows', 'full,baseline', '--out', out]);
    expect(code, err).toBe(0);
    const rows = JSON.parse(readFileSync(join(out, 'table6.json'), 'utf8')) as T.AblationRow[];
    expect(rows.map((r) => r.name)).toEqual(['baseline', 'full']);
    for (const r of rows) {
      expect(r.classes).toEqual([...data.SYNTHETIC_CLASSES]);
      expect(r.classIou).toHaveLength(data.SYNTHETIC_CLASSES.length);
    }
    const md = readFileSync(join(out, 'table6.md'), 'utf8');
    expect(md).toContain('--rows full,baseline');
    expect(md).toContain(`| row | ${data.SYNTHETIC_CLASSES.join(' | ')} |`);
  }, 60000);
});
