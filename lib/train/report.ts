// A run folder's index.html: one self-contained page (inline SVG, images as data URIs, no scripts,
// nothing fetched) with the run's config, its curves, sample predictions on validation images and
// the last evaluation's per-class table. Built from the run folder alone, so it can be rebuilt at
// any time (and after a resume it covers the whole run).
import { existsSync, readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';

import type { SegDataset } from '../data/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { ANNModel } from '../models/ann.js';
import { loadCheckpoint } from '../models/checkpoint.js';
import { resolveTrainConfig } from './config.js';
import { predictMask } from './inference.js';
import { lossCurveSpec, miouCurveSpec, predictionGridSpec, renderSvg, writeFigure, type PredictionTile } from './plots.js';
import { readLog, runPaths, type EvalLogLine, type RunSummary, type TrainConfig, type TrainLogLine } from './run-folder.js';
import { openDatasets } from './session.js';

export interface RunReportOptions {
  /** Validation images shown with their predictions; default 4 (0 for none). */
  samples?: number;
  /** The model to predict with; default: the run's checkpoints/last.safetensors. */
  model?: ANNModel;
  /** The images to predict; default: the validation split the run config names. */
  dataset?: SegDataset;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** An SVG document as an inline <svg> element: HTML needs no XML namespaces (and no URLs then). */
function inlineSvg(svg: string): string {
  return svg.replace(/^<svg [^>]*>/, (open) => open.replace(/\s+xmlns(:\w+)?="[^"]*"/g, ''));
}

const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '–' : (100 * x).toFixed(2));

function classTable(ev: EvalLogLine): string {
  const rows = ev.classes.map((c, i) => {
    const v = ev.iou[i];
    const bar = v === null ? '' : `<span class="bar" style="width:${(100 * v).toFixed(1)}%"></span>`;
    return `<tr><td>${escape(c)}</td><td class="num">${pct(v)}</td><td class="barcell">${bar}</td></tr>`;
  });
  return `<table class="classes">
<thead><tr><th>class</th><th class="num">IoU (%)</th><th></th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
<tfoot>
<tr><th>mIoU</th><th class="num">${pct(ev.miou)}</th><th></th></tr>
<tr><th>pixel accuracy</th><th class="num">${pct(ev.pixelAccuracy)}</th><th></th></tr>
</tfoot>
</table>
<p class="note">At iteration ${ev.iter}; mIoU over the classes present in truth or prediction ('–': in neither).</p>`;
}

function configTable(config: TrainConfig): string {
  const rows: [string, string][] = [];
  const flat = (prefix: string, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(prefix ? `${prefix}.${k}` : k, x);
    else rows.push([prefix, JSON.stringify(v)]);
  };
  flat('', config);
  return `<table class="config"><tbody>
${rows.map(([k, v]) => `<tr><td>${escape(k)}</td><td><code>${escape(v)}</code></td></tr>`).join('\n')}
</tbody></table>`;
}

/** Predictions of the first `n` images as a grid (SVG), and where its files went. */
async function predictionsFigure(runDir: string, config: TrainConfig, options: RunReportOptions, n: number): Promise<{ svg: string; files: string[] } | { missing: string }> {
  const paths = runPaths(runDir);
  if (!options.model && !existsSync(paths.last)) return { missing: `no checkpoint yet (${relative(runDir, paths.last)})` };
  const dataset = options.dataset ?? (await openDatasets(config)).val;
  const model = options.model ?? loadCheckpoint(paths.last);
  try {
    const k = model.config.numClasses;
    if (k !== dataset.classes.length) return { missing: `the model predicts ${k} classes but ${dataset.name} has ${dataset.classes.length}` };
    const tiles: PredictionTile[] = [];
    for (let i = 0; i < Math.min(n, dataset.length); i++) {
      const s = await dataset.get(i);
      const prediction = predictMask(model, s, { mode: config.evalMode, ...(config.evalMode === 'slide' ? { crop: config.evalCrop ?? config.crop } : {}) });
      tiles.push({ name: s.name, width: s.width, height: s.height, image: s.image, truth: s.label, prediction });
    }
    const svg = await renderSvg(await predictionGridSpec(tiles, dataset.classes, dataset.palette));
    const written = await writeFigure(svg, `${paths.plots}/predictions`);
    return { svg, files: [written.svg, written.png] };
  } finally {
    if (!options.model) model.dispose();
  }
}

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222; max-width: 1080px; margin: 24px auto; padding: 0 20px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 34px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; } .note { color: #666; font-size: 13px; }
.figure { overflow-x: auto; } .figure svg { max-width: 100%; height: auto; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; margin: 16px 0; }
.fact { background: #f5f6f8; border-radius: 6px; padding: 10px 12px; } .fact b { display: block; font-size: 21px; } .fact span { color: #666; font-size: 13px; }
table { border-collapse: collapse; } td, th { padding: 3px 12px 3px 0; text-align: left; } .num { text-align: right; font-variant-numeric: tabular-nums; }
table.classes tbody tr:nth-child(odd) { background: #fafafa; } table.classes tfoot th { border-top: 1px solid #ccc; }
.barcell { width: 240px; } .bar { display: inline-block; height: 10px; background: #4c78a8; border-radius: 2px; }
table.config td:first-child { color: #555; } code { font-size: 13px; }
`;

/**
 * Writes <runDir>/index.html (and plots/predictions.svg/.png) from the run folder: config.json,
 * log.jsonl, summary.json when present, and the last checkpoint for the sample predictions.
 * Returns the page's path.
 */
export async function writeRunReport(runDir: string, options: RunReportOptions = {}): Promise<string> {
  const paths = runPaths(runDir);
  if (!existsSync(paths.config)) throw new Error(`writeRunReport: ${runDir} is not a run folder (no ${basename(paths.config)})`);
  let config: TrainConfig;
  try {
    config = resolveTrainConfig(JSON.parse(readFileSync(paths.config, 'utf8')));
  } catch (err) {
    throw new Error(`writeRunReport: ${paths.config}: ${(err as Error).message}`);
  }
  const log = existsSync(paths.log) ? readLog(paths.log) : [];
  const train = log.filter((l): l is TrainLogLine => l.type === 'train');
  const evals = log.filter((l): l is EvalLogLine => l.type === 'eval');
  const summary = existsSync(paths.summary) ? (JSON.parse(readFileSync(paths.summary, 'utf8')) as RunSummary) : null;
  const lastEval = evals.at(-1) ?? null;
  const samples = options.samples ?? 4;

  const sections: string[] = [];
  const facts: [string, string][] = [
    [pct(lastEval?.miou), `validation mIoU (%)${lastEval ? `, iteration ${lastEval.iter}` : ''}`],
    [pct(lastEval?.pixelAccuracy), 'pixel accuracy (%)'],
    [`${train.at(-1)?.iter ?? 0} / ${config.iters}`, 'iterations'],
    [train.length ? train.at(-1)!.loss.toFixed(4) : '–', 'last training loss'],
  ];
  const duration = (s: number) => (s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);
  if (summary) facts.push([duration(summary.trainSeconds), `training time (+ ${duration(summary.evalSeconds)} evaluation)`]);
  sections.push(`<div class="facts">${facts.map(([v, l]) => `<div class="fact"><b>${escape(v)}</b><span>${escape(l)}</span></div>`).join('')}</div>`);

  sections.push('<h2>Training</h2>');
  sections.push(train.length ? `<div class="figure">${inlineSvg(await renderSvg(lossCurveSpec(train)))}</div>` : '<p class="note">No training iterations logged yet.</p>');
  sections.push('<h2>Validation</h2>');
  if (evals.length) {
    sections.push(`<div class="figure">${inlineSvg(await renderSvg(miouCurveSpec(evals)))}</div>`);
    sections.push(classTable(lastEval!));
  } else sections.push('<p class="note">No evaluation logged yet.</p>');

  if (samples > 0) {
    sections.push('<h2>Sample predictions</h2>');
    const fig = await predictionsFigure(runDir, config, options, samples);
    if ('missing' in fig) sections.push(`<p class="note">No predictions: ${escape(fig.missing)}.</p>`);
    else
      sections.push(
        `<p class="note">Validation images with their labels, the last checkpoint's prediction, and the prediction over the image.</p><div class="figure">${inlineSvg(fig.svg)}</div>`,
      );
  }

  sections.push('<h2>Configuration</h2>');
  sections.push(configTable(config));
  const files = [
    ['config.json', paths.config],
    ['log.jsonl', paths.log],
    ['checkpoint', summary?.checkpoint ?? paths.last],
  ].filter(([, p]) => existsSync(p));
  sections.push(`<p class="note">${files.map(([name, p]) => `<a href="${escape(relative(runDir, p))}">${escape(name)}</a>`).join(' · ')}</p>`);

  const title = `ann-seg run: ${config.preset ?? 'custom'} (${config.model.variant ?? 'full'})`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escape(title)}</h1>
<p class="sub">${escape(config.data === 'synthetic' ? 'embedded synthetic dataset' : config.data)} · ${escape(runDir)}</p>
${sections.join('\n')}
</body>
</html>
`;
  writeFileAtomic(paths.report, html);
  return paths.report;
}
