// The run report: one self-contained index.html built from a run folder.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { SYNTHETIC_CLASSES } from '../lib/data/synthetic.js';
import { models } from '../lib/index.js';
import { writeRunReport } from '../lib/train/report.js';
import type { EvalLogLine, TrainLogLine } from '../lib/train/run-folder.js';

const dir = mkdtempSync(join(tmpdir(), 'ann-seg-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODEL: models.ANNConfig & { numClasses: number } = { depth: 18, width: 0.0625, keyChannels: 8, valueChannels: 8, contextChannels: 16, auxChannels: 8, numClasses: SYNTHETIC_CLASSES.length, seed: 2 };

function makeRun(name: string, { evals = true, checkpoint = true, numClasses = MODEL.numClasses } = {}): string {
  const run = join(dir, name);
  mkdirSync(join(run, 'checkpoints'), { recursive: true });
  writeFileSync(
    join(run, 'config.json'),
    JSON.stringify({ preset: 'tiny', model: MODEL, data: 'synthetic', synthetic: { seed: 1, trainSize: 4, valSize: 3, size: 40 }, iters: 20, batch: 2, crop: 32, lr: 0.02 }),
  );
  const lines: (TrainLogLine | EvalLogLine)[] = [];
  for (let i = 1; i <= 20; i++) {
    lines.push({ type: 'train', iter: i, loss: 3 - i * 0.05, lossMain: 2 - i * 0.03, lossAux: 2.5 - i * 0.05, lr: 0.02 * (1 - (i - 1) / 20) ** 0.9, dataMs: 1, stepMs: 20, time: i * 0.02 });
    if (evals && i % 10 === 0)
      lines.push({ type: 'eval', iter: i, miou: i === 10 ? 0.25 : 0.4321, pixelAccuracy: 0.8765, iou: [0.9, 0.5, null, 0.3, 0.2, 0.1, 0.15].slice(0, SYNTHETIC_CLASSES.length), classes: [...SYNTHETIC_CLASSES], ms: 5 });
  }
  writeFileSync(join(run, 'log.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  if (checkpoint) {
    using m = models.ANN({ ...MODEL, numClasses });
    models.saveCheckpoint(join(run, 'checkpoints', 'last.safetensors'), m);
  }
  return run;
}

describe('writeRunReport', () => {
  it('writes index.html with the config, both curves, sample predictions and the per-class table, fetching nothing', async () => {
    const run = makeRun('full');
    const page = await writeRunReport(run, { samples: 2 });
    expect(page).toBe(join(run, 'index.html'));
    const html = readFileSync(page, 'utf8');
    // Nothing to fetch: no URL at all, no scripts, images inline.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link |@import|url\(/i);
    expect(html).not.toMatch(/src="(?!data:)/);
    // Curves and the prediction grid, inline.
    expect(html.match(/<svg /g)?.length).toBe(3);
    expect(html).toContain('Training loss');
    expect(html).toContain('final mIoU 43.2% at iteration 20');
    expect(html.match(/href="data:image\/png;base64,/g)?.length).toBe(2 * 4);
    expect(html).toContain('synthetic-val-1-0');
    expect(existsSync(join(run, 'plots', 'predictions.svg'))).toBe(true);
    expect(existsSync(join(run, 'plots', 'predictions.png'))).toBe(true);
    // The last evaluation's table: every class, its IoU, '–' for an undefined one.
    for (const [c, v] of [['background', '90.00'], ['stripes', '50.00'], ['checks', '–'], [SYNTHETIC_CLASSES[5], '10.00']])
      expect(html).toMatch(new RegExp(`<td>${c}</td><td class="num">${v}</td>`));
    expect(html).toMatch(/<th>mIoU<\/th><th class="num">43\.21<\/th>/);
    expect(html).toMatch(/<th>pixel accuracy<\/th><th class="num">87\.65<\/th>/);
    // The config, field by field.
    expect(html).toMatch(/<td>lr<\/td><td><code>0\.02<\/code><\/td>/);
    expect(html).toMatch(/<td>model\.depth<\/td><td><code>18<\/code><\/td>/);
    expect(html).toContain('<a href="log.jsonl">');
  });

  it('a run without evaluations or a checkpoint says so instead of failing', async () => {
    const run = makeRun('early', { evals: false, checkpoint: false });
    const html = readFileSync(await writeRunReport(run), 'utf8');
    expect(html).toContain('No evaluation logged yet.');
    expect(html).toContain('No predictions: no checkpoint yet (checkpoints/last.safetensors).');
    expect(html.match(/<svg /g)?.length).toBe(1);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('a checkpoint of another class count than the data gets a note, not wrong colours', async () => {
    const run = makeRun('mismatch', { numClasses: 3 });
    const html = readFileSync(await writeRunReport(run), 'utf8');
    expect(html).toMatch(/No predictions: the model predicts 3 classes but synthetic\(val.*\) has \d+\./);
  });

  it('a folder that is not a run is an error naming it', async () => {
    await expect(writeRunReport(join(dir, 'nothing-here'))).rejects.toThrow(/nothing-here is not a run folder \(no config\.json\)/);
  });
});
