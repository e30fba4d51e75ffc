// The end of a run: its curves drawn into plots/ (infer's plots.ts), summary.json and index.html
// (infer's report.ts). Reads only the run folder, so a resumed run's plots cover the whole run.
import { writeFileAtomic } from '../io/atomic.js';
import { writeRunReport } from './report.js';
import { lossCurveSpec, miouCurveSpec, renderSvg, writeFigure } from './plots.js';
import { readLog, runPaths, type EvalLogLine, type RunSummary, type TrainLogLine } from './run-folder.js';
import type { TrainResult } from './trainer.js';
import { join } from 'node:path';

export interface FinishedRun {
  plots: string[];
  report: string;
  summary: RunSummary;
}

export async function finishRun(out: string, result: TrainResult): Promise<FinishedRun> {
  const paths = runPaths(out);
  const log = readLog(paths.log);
  const train = log.filter((l): l is TrainLogLine => l.type === 'train');
  const evals = log.filter((l): l is EvalLogLine => l.type === 'eval');
  const plots: string[] = [];
  plots.push((await writeFigure(await renderSvg(lossCurveSpec(train)), join(paths.plots, 'loss'))).svg);
  if (evals.length) plots.push((await writeFigure(await renderSvg(miouCurveSpec(evals)), join(paths.plots, 'miou'))).svg);
  const last = evals.at(-1) ?? null;
  const summary: RunSummary = {
    iters: result.iter,
    miou: last?.miou ?? null,
    pixelAccuracy: last?.pixelAccuracy ?? null,
    checkpoint: result.checkpoint ?? paths.last,
    trainSeconds: result.trainSeconds,
    evalSeconds: result.evalSeconds,
  };
  writeFileAtomic(paths.summary, JSON.stringify(summary, null, 2) + '\n');
  const report = await writeRunReport(out);
  return { plots, report, summary };
}
