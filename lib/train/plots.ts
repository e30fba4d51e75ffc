// Plots of a run and of an ablation, drawn by vega-lite: a spec compiled to vega, rendered headless
// to SVG by vega's View (no browser, no canvas), and rasterised to PNG by sharp (librsvg; its text
// needs fonts reachable through fontconfig). The SVG is the primary output; the PNG is for places
// that cannot show SVG.
import sharp from 'sharp';
import type { TopLevelSpec } from 'vega-lite';

import { writeFileAtomic } from '../io/atomic.js';
import { colorize, encodePng, overlay, type Palette } from './overlay.js';
import type { AblationRow, EvalLogLine, TrainLogLine } from './run-folder.js';

const WIDTH = 560;

/** What the loss plot reads from a run's 'train' log lines. */
export type LossPoint = Pick<TrainLogLine, 'iter' | 'loss' | 'lossMain' | 'lossAux' | 'lr'>;

/** What the mIoU plot reads from a run's 'eval' log lines (fractions in [0, 1]). */
export type EvalPoint = Pick<EvalLogLine, 'iter' | 'miou' | 'pixelAccuracy'>;

/** What the ablation chart reads from a row of `ann-seg ablate` (mIoU as fractions in [0, 1]). */
export type AblationBar = Pick<AblationRow, 'name' | 'label' | 'miouMean' | 'miouStd' | 'seeds'>;

/** One row of the prediction grid: the image, its truth (if known) and the predicted mask. */
export interface PredictionTile {
  name: string;
  width: number;
  height: number;
  /** RGB [H, W, 3]. */
  image: Uint8Array;
  /** Class ids [H, W] (255 = ignore). */
  truth?: Uint8Array;
  prediction: Uint8Array;
}

const pct = (x: number) => Math.round(x * 1000) / 10;

/** Renders a vega-lite spec to an SVG document, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: vega's canvas shim uses top-level await, which a CommonJS program that
  // imports ann-seg (tsx in a project without "type": "module") cannot load.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG document to PNG at `density` dpi (144 = twice the SVG's pixel size). */
export async function svgToPng(svg: string, density = 144): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density }).png().toBuffer();
}

/** Writes `<base>.svg` and `<base>.png` atomically; returns both paths. */
export async function writeFigure(svg: string, base: string): Promise<{ svg: string; png: string }> {
  const png = await svgToPng(svg);
  writeFileAtomic(`${base}.svg`, svg);
  writeFileAtomic(`${base}.png`, png);
  return { svg: `${base}.svg`, png: `${base}.png` };
}

/** Means over consecutive groups of `size` points (the iteration is the group's last). */
function bucketMeans(points: readonly LossPoint[], maxPoints: number): { rows: LossPoint[]; size: number } {
  const size = Math.max(1, Math.ceil(points.length / maxPoints));
  if (size === 1) return { rows: [...points], size };
  const rows: LossPoint[] = [];
  for (let s = 0; s < points.length; s += size) {
    const group = points.slice(s, s + size);
    const mean = (f: (p: LossPoint) => number) => group.reduce((a, p) => a + f(p), 0) / group.length;
    rows.push({
      iter: group.at(-1)!.iter,
      loss: mean((p) => p.loss),
      lossMain: mean((p) => p.lossMain),
      lossAux: mean((p) => p.lossAux),
      lr: mean((p) => p.lr),
    });
  }
  return { rows, size };
}

/** The training loss (total, main, aux) over iterations, and the learning rate below it. */
export function lossCurveSpec(points: readonly LossPoint[], maxPoints = 500): TopLevelSpec {
  if (points.length === 0) throw new Error('lossCurveSpec: no training log lines to plot');
  const { rows, size } = bucketMeans(points, maxPoints);
  const series = rows.flatMap((p) => [
    { iter: p.iter, series: 'total', value: p.loss },
    { iter: p.iter, series: 'main (OHEM)', value: p.lossMain },
    { iter: p.iter, series: 'aux', value: p.lossAux },
  ]);
  const last = points.at(-1)!;
  const x = { field: 'iter', type: 'quantitative', title: 'iteration', scale: { domainMin: 0 } } as const;
  return {
    title: { text: 'Training loss', subtitle: size > 1 ? `mean of every ${size} iterations` : `per iteration` },
    vconcat: [
      {
        width: WIDTH,
        height: 220,
        data: { values: series },
        layer: [
          {
            mark: { type: 'line', strokeWidth: 1.5 },
            encoding: {
              x,
              y: { field: 'value', type: 'quantitative', title: 'loss', scale: { zero: false } },
              color: { field: 'series', type: 'nominal', title: null, sort: ['total', 'main (OHEM)', 'aux'], legend: { orient: 'top-right' } },
            },
          },
          {
            data: { values: [{ iter: last.iter, value: last.loss, text: `last ${last.loss.toPrecision(4)}` }] },
            mark: { type: 'text', align: 'right', dy: -16, fontSize: 11 },
            encoding: { x, y: { field: 'value', type: 'quantitative' }, text: { field: 'text' } },
          },
        ],
      },
      {
        width: WIDTH,
        height: 80,
        data: { values: rows.map((p) => ({ iter: p.iter, lr: p.lr })) },
        mark: { type: 'line', color: '#888' },
        encoding: { x, y: { field: 'lr', type: 'quantitative', title: 'learning rate', axis: { format: '.1e' } } },
      },
    ],
  };
}

/** Validation mIoU and pixel accuracy (in %) at each evaluation, the last mIoU written beside its point. */
export function miouCurveSpec(points: readonly EvalPoint[]): TopLevelSpec {
  if (points.length === 0) throw new Error('miouCurveSpec: no evaluation log lines to plot');
  const values = points.flatMap((p) => [
    { iter: p.iter, metric: 'mIoU', value: pct(p.miou) },
    { iter: p.iter, metric: 'pixel accuracy', value: pct(p.pixelAccuracy) },
  ]);
  const last = points.at(-1)!;
  const x = { field: 'iter', type: 'quantitative', title: 'iteration', scale: { domainMin: 0 } } as const;
  const y = { field: 'value', type: 'quantitative', title: '%', scale: { domainMin: 0, domainMax: 100 } } as const;
  return {
    title: { text: 'Validation', subtitle: `final mIoU ${pct(last.miou)}% at iteration ${last.iter}` },
    width: WIDTH,
    height: 240,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: { x, y, color: { field: 'metric', type: 'nominal', title: null, legend: { orient: 'top', direction: 'horizontal' } } },
      },
      {
        data: { values: [{ iter: last.iter, value: pct(last.miou), text: `${pct(last.miou)}` }] },
        mark: { type: 'text', align: 'left', dx: 6, dy: -8, fontSize: 12, fontWeight: 'bold' },
        encoding: { x, y, text: { field: 'text' } },
      },
    ],
  };
}

/** The ablation: mIoU mean per preset as bars, ± one standard deviation over seeds as error bars. */
export function ablationChartSpec(rows: readonly AblationBar[], title = 'Ablation'): TopLevelSpec {
  if (rows.length === 0) throw new Error('ablationChartSpec: no rows to plot');
  const seeds = [...new Set(rows.map((r) => r.seeds.length))];
  const values = rows.map((r) => ({
    label: r.label,
    name: r.name,
    mean: pct(r.miouMean),
    lo: pct(r.miouMean - r.miouStd),
    hi: pct(r.miouMean + r.miouStd),
    text: `${pct(r.miouMean).toFixed(1)} ± ${pct(r.miouStd).toFixed(1)}`,
  }));
  const x = { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: -30, labelLimit: 200 } } as const;
  return {
    title: { text: title, subtitle: `validation mIoU (%), mean ± std over ${seeds.join('/')} seed${seeds.join() === '1' ? '' : 's'}` },
    width: { step: 72 },
    height: 260,
    data: { values },
    layer: [
      {
        mark: { type: 'bar', color: '#4c78a8', width: { band: 0.7 } },
        encoding: { x, y: { field: 'mean', type: 'quantitative', title: 'mIoU (%)' } },
      },
      {
        mark: { type: 'errorbar', ticks: { width: 14 }, color: '#222' },
        encoding: { x, y: { field: 'lo', type: 'quantitative', title: 'mIoU (%)' }, y2: { field: 'hi' } },
      },
      {
        mark: { type: 'text', dy: -8, fontSize: 11 },
        encoding: { x, y: { field: 'hi', type: 'quantitative', title: 'mIoU (%)' }, text: { field: 'text' } },
      },
    ],
  };
}

const hex = ([r, g, b]: readonly number[]) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

/**
 * A grid of predictions, one row per image: the image, the true mask (when given), the predicted
 * mask and the prediction blended over the image; a colour key of the classes below.
 */
export async function predictionGridSpec(
  tiles: readonly PredictionTile[],
  classes: readonly string[],
  palette: Palette,
  { tileWidth = 160 } = {},
): Promise<TopLevelSpec> {
  if (tiles.length === 0) throw new Error('predictionGridSpec: no predictions to plot');
  // The truth column only when every row has one, so the columns stay aligned.
  const withTruth = tiles.every((t) => t.truth !== undefined);
  const rows = [];
  for (const [i, t] of tiles.entries()) {
    const height = Math.round((tileWidth * t.height) / t.width);
    // Enlarged in whole pixels first, so masks stay crisp when the SVG scales them.
    const scale = Math.max(1, Math.ceil(tileWidth / t.width));
    const png = async (rgb: Uint8Array) => `data:image/png;base64,${(await encodePng(rgb, t.width, t.height, scale)).toString('base64')}`;
    const columns: [string, Uint8Array][] = [['image', t.image]];
    if (withTruth) columns.push(['ground truth', colorize(t.truth!, palette)]);
    columns.push(['prediction', colorize(t.prediction, palette)], ['overlay', overlay(t.image, t.prediction, palette)]);
    const cells = [];
    for (const [title, rgb] of columns)
      cells.push({
        ...(i === 0 ? { title } : {}),
        width: tileWidth,
        height,
        data: { values: [{ url: await png(rgb) }] },
        mark: { type: 'image', width: tileWidth, height, aspect: false, align: 'left', baseline: 'top', aria: false },
        encoding: { url: { field: 'url', type: 'nominal' }, x: { value: 0 }, y: { value: 0 } },
      });
    rows.push({ title: { text: t.name, anchor: 'start', fontSize: 11, fontWeight: 'normal' }, hconcat: cells });
  }
  // The colour key: a legend only (the chart it belongs to draws nothing).
  const key = {
    width: tileWidth,
    height: 1,
    data: { values: classes.map((c) => ({ class: c })) },
    mark: { type: 'square', opacity: 0 },
    encoding: {
      color: {
        field: 'class',
        type: 'nominal',
        title: null,
        scale: { domain: [...classes], range: palette.slice(0, classes.length).map(hex) },
        legend: { orient: 'bottom', direction: 'horizontal', columns: Math.min(classes.length, 7), symbolType: 'square', symbolSize: 160, symbolOpacity: 1, labelFontSize: 12 },
      },
    },
  };
  return { title: 'Predictions', vconcat: [...rows, key], config: { view: { stroke: null }, concat: { spacing: 8 } } } as TopLevelSpec;
}
