// The paper's ablations on the embedded dataset: Table 6 (which blocks) and Table 7 (how anchors are
// sampled, how many). Every row trains the same preset with the same budget and seeds, then is
// evaluated on the same validation split; rows hold mIoU mean and std over seeds.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { ANN, parameterCounts } from '../models/ann.js';
import { VARIANT_PARTS, VARIANTS, type ANNConfig, type ANNSampling } from '../models/config.js';
import { cropSize } from './config.js';
import { forwardFlops } from './flops.js';
import { ablationChartSpec, renderSvg, writeFigure } from './plots.js';
import type { AblationRow, TrainConfig, TrainLogLine } from './run-folder.js';
import { readLog, runPaths } from './run-folder.js';
import { makeTrainer, openDatasets, withDataClasses } from './session.js';

export interface AblationCase {
  name: string;
  label: string;
  model: Partial<ANNConfig>;
}

const SAMPLING_LABEL: Record<ANNSampling, string> = {
  'plain-random': 'random',
  'plain-max': 'max',
  'plain-avg': 'average',
  'pyramid-random': 'pyramid random',
  'pyramid-max': 'pyramid max',
  'pyramid-avg': 'pyramid average',
};

function samplingCase(sampling: ANNSampling, sizes: number[]): AblationCase {
  const s = sizes.reduce((a, n) => a + n * n, 0);
  return {
    name: `${sampling}/${sizes.join('-')}`,
    label: `${SAMPLING_LABEL[sampling]} n=${sizes.join(',')} (S=${s})`,
    model: { variant: 'apnb', sampling, sizes },
  };
}

/**
 * Table 6: the nine variants. Table 7: APNB with each sampling and anchor count, as the paper's
 * rows, except that plain sampling uses n = 6 (S = 36) rather than 15: the small preset's 64-pixel
 * crops give 8x8 feature maps, too small for 225 distinct random anchors.
 */
export const PLAIN_ANCHORS = 36;

export function ablationCases(table: 6 | 7): AblationCase[] {
  if (table === 6) return VARIANTS.map((v) => ({ name: v, label: VARIANT_PARTS[v].label, model: { variant: v } }));
  return [
    samplingCase('plain-random', [6]),
    samplingCase('plain-max', [6]),
    samplingCase('plain-avg', [6]),
    samplingCase('pyramid-random', [1, 2, 3, 6]),
    samplingCase('pyramid-max', [1, 2, 3, 6]),
    samplingCase('pyramid-avg', [1, 2, 3, 6]),
    samplingCase('pyramid-avg', [1, 3, 6, 8]),
    samplingCase('pyramid-avg', [1, 4, 8, 12]),
  ];
}

export interface AblationOptions {
  table: 6 | 7;
  base: TrainConfig;
  seeds: number[];
  out: string;
  /** Only these rows (case names, in the table's order); default all. */
  rows?: string[];
  /** Called after each training run. */
  onRun?(info: { name: string; seed: number; miou: number; msPerIter: number; seconds: number; done: number; total: number }): void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Column means of per-seed IoU lists, skipping nulls (a class absent in that run). */
function meanIou(ious: (number | null)[][]): (number | null)[] {
  return (ious[0] ?? []).map((_, c) => {
    const seen = ious.map((r) => r[c]).filter((v): v is number => v !== null);
    return seen.length ? seen.reduce((a, b) => a + b, 0) / seen.length : null;
  });
}

/** The table's cases, or only the named ones (in the table's order); throws naming an unknown row. */
export function selectCases(table: 6 | 7, rows?: string[]): AblationCase[] {
  const cases = ablationCases(table);
  if (!rows) return cases;
  for (const r of rows)
    if (!cases.some((c) => c.name === r)) throw new Error(`ablation: Table ${table} has no row '${r}' (expected one of ${cases.map((c) => c.name).join(', ')})`);
  return cases.filter((c) => rows.includes(c.name));
}

function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
}

/** Trains every case with every seed (run folders under out/runs/) and returns the table's rows. */
export async function runAblation(o: AblationOptions): Promise<AblationRow[]> {
  const cases = selectCases(o.table, o.rows);
  const data = await openDatasets(o.base);
  const rows: AblationRow[] = [];
  let done = 0;
  for (const c of cases) {
    const mious: number[] = [];
    const ms: number[] = [];
    const ious: (number | null)[][] = [];
    let params = 0;
    let gflops = 0;
    for (const seed of o.seeds) {
      const config = withDataClasses({ ...o.base, seed, model: { ...o.base.model, ...c.model } }, data);
      if (seed === o.seeds[0]) {
        using model = ANN(config.model);
        params = parameterCounts(model).total;
        gflops = forwardFlops(model, ...cropSize(config.crop)) / 1e9;
      }
      const out = join(o.out, 'runs', `${c.name.replace(/\//g, '_')}-seed${seed}`);
      const t0 = performance.now();
      const trainer = makeTrainer(config, data, { out });
      let result;
      try {
        result = await trainer.run();
      } finally {
        trainer.dispose();
      }
      if (!result.lastEval) throw new Error(`ablation: run ${out} ended without an evaluation`);
      const steps = readLog(runPaths(out).log).filter((l): l is TrainLogLine => l.type === 'train');
      // The first iterations allocate and warm caches: the median of the rest is the steady rate.
      const perIter = median(steps.slice(Math.min(5, steps.length - 1)).map((l) => l.stepMs));
      mious.push(result.lastEval.miou);
      ious.push(result.lastEval.iou);
      ms.push(perIter);
      o.onRun?.({ name: c.name, seed, miou: result.lastEval.miou, msPerIter: perIter, seconds: (performance.now() - t0) / 1000, done: ++done, total: cases.length * o.seeds.length });
    }
    rows.push({
      name: c.name,
      label: c.label,
      miouMean: mious.reduce((a, b) => a + b, 0) / mious.length,
      miouStd: std(mious),
      mious,
      params,
      gflops,
      msPerIter: median(ms),
      seeds: [...o.seeds],
      classIou: meanIou(ious),
      classes: [...data.train.classes],
    });
  }
  return rows;
}

const pct = (x: number) => (100 * x).toFixed(2);

/** The rows as a markdown table (mIoU in %, ± the sample standard deviation over seeds). */
export function ablationMarkdown(rows: readonly AblationRow[]): string {
  const lines = [
    '| row | mIoU (%) mean ± std | per seed | params | GFLOPs | ms/iter |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${pct(r.miouMean)} ± ${pct(r.miouStd)} | ${r.mious.map(pct).join(', ')} | ${r.params.toLocaleString('en-US')} | ${r.gflops.toFixed(3)} | ${r.msPerIter.toFixed(0)} |`,
    ),
  ];
  const classes = rows.find((r) => r.classes)?.classes;
  if (classes)
    lines.push(
      '',
      `Per-class IoU (%), mean over seeds:`,
      '',
      `| row | ${classes.join(' | ')} |`,
      `|---|${classes.map(() => '---|').join('')}`,
      ...rows.map((r) => `| ${r.name} | ${classes.map((_, c) => (r.classIou?.[c] == null ? '–' : (100 * r.classIou[c]).toFixed(1))).join(' | ')} |`),
    );
  return lines.join('\n') + '\n';
}

/** Writes <out>/table<N>.json, .md and the bar chart (.svg, .png); returns their paths. */
export async function writeAblation(out: string, table: 6 | 7, rows: AblationRow[], header: string): Promise<string[]> {
  const base = join(out, `table${table}`);
  writeFileAtomic(`${base}.json`, JSON.stringify(rows, null, 2) + '\n');
  writeFileAtomic(`${base}.md`, `${header}\n\n${ablationMarkdown(rows)}`);
  const title = table === 6 ? "Table 6: ANN's blocks on the embedded dataset" : 'Table 7: APNB sampling and anchor count on the embedded dataset';
  const fig = await writeFigure(await renderSvg(ablationChartSpec(rows, title)), base);
  return [`${base}.md`, `${base}.json`, fig.svg, fig.png];
}
