// Plots (vega-lite -> SVG -> PNG) and the mask colours they share with `predict`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { colorize, defaultPalette, encodePng, overlay } from '../lib/train/overlay.js';
import {
  ablationChartSpec,
  lossCurveSpec,
  miouCurveSpec,
  predictionGridSpec,
  renderSvg,
  svgToPng,
  writeFigure,
  type AblationBar,
  type LossPoint,
} from '../lib/train/plots.js';

const dir = mkdtempSync(join(tmpdir(), 'ann-seg-plots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectValidSvg(svg: string): Promise<{ width: number; height: number }> {
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  // librsvg parses it: a malformed document is an error here.
  const meta = await sharp(Buffer.from(svg)).metadata();
  expect(meta.format).toBe('svg');
  return { width: meta.width!, height: meta.height! };
}

const ablation: AblationBar[] = [
  { name: 'baseline', label: 'Baseline', miouMean: 0.4113, miouStd: 0.0121, seeds: [0, 1, 2] },
  { name: 'apnb', label: '+ APNB', miouMean: 0.5237, miouStd: 0.0196, seeds: [0, 1, 2] },
  { name: 'full', label: '+ AFNB + APNB (Full)', miouMean: 0.5502, miouStd: 0.0148, seeds: [0, 1, 2] },
];

describe('plots', () => {
  it('the loss curve is a valid SVG with the last loss written on it; long runs are averaged into buckets', async () => {
    const points: LossPoint[] = Array.from({ length: 1200 }, (_, i) => ({
      iter: i + 1,
      loss: 3 / (1 + i / 100),
      lossMain: 2 / (1 + i / 100),
      lossAux: 2.5 / (1 + i / 100),
      lr: 0.01 * (1 - i / 1200) ** 0.9,
    }));
    const svg = await renderSvg(lossCurveSpec(points));
    await expectValidSvg(svg);
    expect(svg).toContain(`last ${points.at(-1)!.loss.toPrecision(4)}`);
    expect(svg).toContain('mean of every 3 iterations');
    expect(svg).toContain('learning rate');
    const short = await renderSvg(lossCurveSpec(points.slice(0, 10)));
    expect(short).toContain('per iteration');
  });

  it('the mIoU curve shows mIoU and pixel accuracy in %, the final mIoU written out', async () => {
    const svg = await renderSvg(
      miouCurveSpec([
        { iter: 200, miou: 0.2, pixelAccuracy: 0.6 },
        { iter: 400, miou: 0.4123, pixelAccuracy: 0.8 },
      ]),
    );
    await expectValidSvg(svg);
    expect(svg).toContain('final mIoU 41.2% at iteration 400');
    expect(svg).toContain('>41.2<');
    expect(svg).toContain('pixel accuracy');
  });

  it('the ablation chart has a bar per preset with mean ± std over the seeds', async () => {
    const svg = await renderSvg(ablationChartSpec(ablation, 'Table 6'));
    await expectValidSvg(svg);
    for (const t of ['Baseline', '+ APNB', '+ AFNB + APNB (Full)', '41.1 ± 1.2', '52.4 ± 2.0', '55.0 ± 1.5', 'over 3 seeds', 'Table 6'])
      expect(svg).toContain(t);
    // The bars' heights and the error bars' ends are the rows' numbers (in %).
    for (const [label, mean] of [['Baseline', 41.1], ['+ APNB', 52.4], ['+ AFNB + APNB (Full)', 55]])
      expect(svg).toContain(`aria-label="label: ${label}; mIoU (%): ${mean}"`);
    expect(svg).toContain('hi: 42.3; lo: 39.9');
    expect(svg).toContain('hi: 56.5; lo: 53.5');
  });

  it('PNGs come out at twice the SVG size, and their text is rendered (fonts found through fontconfig)', async () => {
    const svg = await renderSvg(ablationChartSpec(ablation));
    const { width, height } = await expectValidSvg(svg);
    const png = await svgToPng(svg);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([width * 2, height * 2]);
    // The same picture without its text must differ from it: the text was drawn.
    const blank = await svgToPng(svg.replace(/<text[^>]*>[^<]*<\/text>/g, ''));
    const a = await sharp(png).raw().toBuffer();
    const b = await sharp(blank).raw().toBuffer();
    let differing = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++;
    expect(differing).toBeGreaterThan(1000);
  });

  it('writeFigure writes the SVG and the PNG', async () => {
    const files = await writeFigure(await renderSvg(ablationChartSpec(ablation)), join(dir, 'ablation'));
    expect(readFileSync(files.svg, 'utf8')).toContain('55.0 ± 1.5');
    expect((await sharp(readFileSync(files.png)).metadata()).format).toBe('png');
  });

  it('the prediction grid embeds image, truth, prediction and overlay per row, in the class colours', async () => {
    const w = 8;
    const h = 6;
    const image = new Uint8Array(w * h * 3).fill(100);
    const prediction = new Uint8Array(w * h).map((_, i) => (i % w < 4 ? 1 : 2));
    const truth = new Uint8Array(w * h).fill(1);
    const palette = defaultPalette(3);
    const spec = await predictionGridSpec(
      [
        { name: 'first', width: w, height: h, image, truth, prediction },
        { name: 'second', width: w, height: h, image, truth, prediction },
      ],
      ['bg', 'a', 'b'],
      palette,
      { tileWidth: 40 },
    );
    const svg = await renderSvg(spec);
    await expectValidSvg(svg);
    expect(svg).toContain('first');
    expect(svg).toContain('ground truth');
    const urls = [...svg.matchAll(/href="data:image\/png;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1], 'base64'));
    expect(urls.length).toBe(8);
    // The prediction tile (third of the first row): left half class 1's colour, right half class 2's.
    const { data, info } = await sharp(urls[2]).raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(40);
    expect([...data.subarray(0, 3)]).toEqual([...palette[1]]);
    const right = (info.width - 1) * 3;
    expect([...data.subarray(right, right + 3)]).toEqual([...palette[2]]);
    // Without truth for every row, no truth column.
    const noTruth = await renderSvg(await predictionGridSpec([{ name: 'x', width: w, height: h, image, prediction }], ['bg', 'a', 'b'], palette));
    expect(noTruth).not.toContain('ground truth');
    expect([...noTruth.matchAll(/<image /g)].length).toBe(3);
  });

  it('empty inputs are errors naming the plot', () => {
    expect(() => lossCurveSpec([])).toThrow(/lossCurveSpec: no training log lines/);
    expect(() => miouCurveSpec([])).toThrow(/miouCurveSpec: no evaluation log lines/);
    expect(() => ablationChartSpec([])).toThrow(/ablationChartSpec: no rows/);
  });
});

describe('mask colours', () => {
  it('the default palette is PASCAL VOC colour map', () => {
    expect(defaultPalette(6)).toEqual([
      [0, 0, 0],
      [128, 0, 0],
      [0, 128, 0],
      [128, 128, 0],
      [0, 0, 128],
      [128, 0, 128],
    ]);
    const many = defaultPalette(40).map((c) => c.join());
    expect(new Set(many).size).toBe(40);
  });

  it('colorize maps ids to colours, 255 to the void colour; an id without a colour is an error', () => {
    const p = defaultPalette(3);
    expect([...colorize([1, 255, 2], p)]).toEqual([128, 0, 0, 224, 224, 192, 0, 128, 0]);
    expect(() => colorize([3], p)).toThrow(/class id 3 has no colour \(palette of 3 classes\)/);
  });

  it('overlay blends image and colour by alpha and leaves ignored pixels as they were', () => {
    const p = defaultPalette(2);
    const image = Uint8Array.from([100, 100, 100, 10, 20, 30]);
    expect([...overlay(image, [1, 255], p, 0.5)]).toEqual([114, 50, 50, 10, 20, 30]);
    expect([...overlay(image, [1, 1], p, 0)]).toEqual([...image]);
    expect(() => overlay(image, [1], p)).toThrow(/not RGB for a mask of 1 pixels/);
  });

  it('encodePng writes the bytes it is given (enlarged by whole pixels when asked)', async () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 0, 255]);
    const png = await encodePng(rgb, 2, 1, 3);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([6, 3]);
    expect([...data.subarray(0, 3)]).toEqual([255, 0, 0]);
    expect([...data.subarray(15, 18)]).toEqual([0, 0, 255]);
  });
});
