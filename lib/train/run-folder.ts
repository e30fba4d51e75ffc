// The run folder: what `ann-seg train` (and the Trainer) writes, and what plots, the report and
// `eval` read. One place for the names, so writer and readers cannot drift apart.
//
//   <out>/config.json                 TrainConfig, the full run config (model config included)
//   <out>/log.jsonl                   one LogLine per line: 'train' every iteration, 'eval' per evaluation
//   <out>/checkpoints/last.safetensors       the newest checkpoint (what --resume reads)
//   <out>/checkpoints/iter-<k>.safetensors   kept every `checkpointEvery` iterations
//   <out>/plots/                      loss.svg, miou.svg (and .png) from lib/train/plots.ts
//   <out>/index.html                  the run's report (lib/train/report.ts)
//   <out>/summary.json                RunSummary, written when the run ends
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AugmentOptions } from '../data/augment.js';
import type { SyntheticLayout } from '../data/synthetic.js';
import type { ANNConfig } from '../models/config.js';

/** Everything that decides a training run; stored as config.json and inside every checkpoint. */
export interface TrainConfig {
  /** The preset this config started from (informational). */
  preset?: string;
  model: ANNConfig;
  /** 'synthetic' (the embedded dataset) or a folder path (Cityscapes or plain layout). */
  data: string;
  /**
   * Synthetic data only: the scenes' seed (train and val are different streams of it), split sizes, scene
   * size (its height; the width defaults to it, strips to 8 times it) and layout (default 'scenes'; see lib/data/synthetic.ts).
   */
  synthetic?: { seed: number; trainSize: number; valSize: number; size: number; width?: number; layout?: SyntheticLayout };
  iters: number;
  batch: number;
  /** Training crop in pixels: a side (square) or [height, width]. */
  crop: number | [number, number];
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Poly schedule power. */
  power: number;
  /** OHEM on the main loss; min kept pixels per batch. */
  ohem: boolean;
  ohemThresh: number;
  ohemMinKept: number;
  auxWeight: number;
  /** The paper's augmentation (scale 0.5-2, flip, brightness) on the training batches, or those options changed. */
  augment: boolean | AugmentOptions;
  /** Seeds the model's initialisation, dropout/sampling (the default generator) and the loader. */
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
  /** Evaluation: 'whole' image or 'slide' windows of `evalCrop`. */
  evalMode: 'whole' | 'slide';
  evalCrop?: number;
}

export interface TrainLogLine {
  type: 'train';
  /** 1-based: the iteration just completed. */
  iter: number;
  loss: number;
  lossMain: number;
  lossAux: number;
  /** The learning rate this iteration used. */
  lr: number;
  /** Time spent waiting for the batch (the loader's part), and the whole iteration, in ms. */
  dataMs: number;
  stepMs: number;
  /** Seconds since the run (or the resumed part) started. */
  time: number;
}

export interface EvalLogLine {
  type: 'eval';
  iter: number;
  miou: number;
  pixelAccuracy: number;
  /** Per-class IoU (NaN written as null: a class absent from both prediction and truth). */
  iou: (number | null)[];
  classes: string[];
  /** Evaluation wall time in ms. */
  ms: number;
}

export type LogLine = TrainLogLine | EvalLogLine;

export interface RunSummary {
  iters: number;
  miou: number | null;
  pixelAccuracy: number | null;
  checkpoint: string;
  /** Training wall time (s) of this process (a resumed run counts its own part). */
  trainSeconds: number;
  evalSeconds: number;
}

/** A row of an ablation table (ann-seg ablate), as JSON and as plotted by lib/train/plots.ts. */
export interface AblationRow {
  /** The variant or sampling id (e.g. 'apnb', 'pyramid-avg/S=110'). */
  name: string;
  /** As printed in the paper's table (e.g. '+ APNB'). */
  label: string;
  miouMean: number;
  miouStd: number;
  /** Per-seed mIoU, in seed order. */
  mious: number[];
  params: number;
  gflops: number;
  msPerIter: number;
  seeds: number[];
  /** Per-class IoU of the last evaluation, mean over the seeds that saw the class (null: none did). */
  classIou?: (number | null)[];
  classes?: string[];
}

export const RUN_FILES = {
  config: 'config.json',
  log: 'log.jsonl',
  checkpoints: 'checkpoints',
  plots: 'plots',
  report: 'index.html',
  summary: 'summary.json',
} as const;

export function runPaths(out: string) {
  const checkpoints = join(out, RUN_FILES.checkpoints);
  return {
    out,
    config: join(out, RUN_FILES.config),
    log: join(out, RUN_FILES.log),
    checkpoints,
    last: join(checkpoints, 'last.safetensors'),
    iter: (k: number) => join(checkpoints, `iter-${k}.safetensors`),
    plots: join(out, RUN_FILES.plots),
    report: join(out, RUN_FILES.report),
    summary: join(out, RUN_FILES.summary),
  };
}
export type RunPaths = ReturnType<typeof runPaths>;

/** Every line of a run's log.jsonl (an unfinished last line, from a killed process, is skipped). */
export function readLog(path: string): LogLine[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: LogLine[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch (err) {
      if (i === lines.length - 1) break;
      throw new Error(`${path}:${i + 1}: not JSON (${(err as Error).message})`);
    }
  }
  return out;
}
