// A training run's config: defaults and checks. Plain JSON (config.json, checkpoints), checked field
// by field so a bad config file fails with one line naming the field.
import { resolveConfig, type ANNConfig, type ResolvedANNConfig } from '../models/config.js';
import { resolveAugment, type AugmentOptions } from '../data/augment.js';
import type { TrainConfig } from './run-folder.js';

/** The official recipe's optimisation settings (ANN-SEMANTICS.md): what a preset leaves out. */
export const TRAIN_DEFAULTS: Omit<TrainConfig, 'model' | 'data' | 'iters' | 'batch' | 'crop' | 'lr'> = {
  momentum: 0.9,
  weightDecay: 5e-4,
  power: 0.9,
  ohem: true,
  ohemThresh: 0.7,
  ohemMinKept: 100000,
  auxWeight: 0.4,
  augment: true,
  seed: 0,
  evalEvery: 0,
  checkpointEvery: 0,
  evalMode: 'whole',
};

const FIELDS = new Set([
  'preset',
  'model',
  'data',
  'synthetic',
  'iters',
  'batch',
  'crop',
  'lr',
  ...Object.keys(TRAIN_DEFAULTS),
  'evalCrop',
]);

const SYNTHETIC_FIELDS = ['seed', 'trainSize', 'valSize', 'size', 'width', 'layout'];

/** A crop: one side of at least 8 px, or [height, width] of them. */
function cropOf(v: unknown): number | [number, number] {
  const side = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 8;
  if (side(v)) return v as number;
  if (Array.isArray(v) && v.length === 2 && v.every(side)) return [v[0] as number, v[1] as number];
  fail(`crop must be an integer >= 8 or [height, width] of them, got ${JSON.stringify(v)}`);
}

/** [height, width] of a crop. */
export function cropSize(crop: number | readonly [number, number]): [number, number] {
  return typeof crop === 'number' ? [crop, crop] : [crop[0], crop[1]];
}

/** A crop as people write it: 64, or 64x512. */
export function cropText(crop: number | readonly [number, number]): string {
  return typeof crop === 'number' ? String(crop) : `${crop[0]}x${crop[1]}`;
}

function fail(msg: string): never {
  throw new Error(`train config: ${msg}`);
}

function int(c: Record<string, unknown>, key: string, min: number): number {
  const v = c[key];
  if (!Number.isSafeInteger(v) || (v as number) < min) fail(`${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v as number;
}

function num(c: Record<string, unknown>, key: string, min: number, max = Infinity): number {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    fail(`${key} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

/** Checks a (partial) config over the defaults; throws 'train config: ...' naming the first bad field. */
export function resolveTrainConfig(input: unknown): TrainConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail(`expected a JSON object, got ${JSON.stringify(input)}`);
  for (const key of Object.keys(input)) if (!FIELDS.has(key)) fail(`unknown field '${key}' (expected one of ${[...FIELDS].join(', ')})`);
  const c: Record<string, unknown> = { ...TRAIN_DEFAULTS, ...input };
  if (typeof c.data !== 'string' || c.data === '') fail(`data must be 'synthetic' or a folder path, got ${JSON.stringify(c.data)}`);
  let model: ResolvedANNConfig;
  try {
    model = resolveConfig(c.model as ANNConfig);
  } catch (err) {
    fail(`model: ${(err as Error).message}`);
  }
  // A seeded random-sampling block draws anchors from its own stream, which checkpoints cannot hold.
  if (model.seed !== undefined && model.sampling.endsWith('random'))
    fail(`model.seed cannot be combined with sampling '${model.sampling}' (resume would not be exact); set the run's seed instead`);
  if (typeof c.ohem !== 'boolean') fail(`ohem must be true or false, got ${JSON.stringify(c.ohem)}`);
  let augment: boolean | AugmentOptions;
  if (typeof c.augment === 'boolean') augment = c.augment;
  else if (typeof c.augment === 'object' && c.augment !== null && !Array.isArray(c.augment)) {
    try {
      resolveAugment(c.augment as AugmentOptions);
    } catch (err) {
      fail((err as Error).message);
    }
    augment = c.augment as AugmentOptions;
  } else fail(`augment must be true, false or an object of scale, flip, brightness, got ${JSON.stringify(c.augment)}`);
  if (c.evalMode !== 'whole' && c.evalMode !== 'slide') fail(`evalMode must be 'whole' or 'slide', got ${JSON.stringify(c.evalMode)}`);
  const out: TrainConfig = {
    model,
    data: c.data,
    iters: int(c, 'iters', 1),
    batch: int(c, 'batch', 1),
    crop: cropOf(c.crop),
    lr: num(c, 'lr', 0),
    momentum: num(c, 'momentum', 0),
    weightDecay: num(c, 'weightDecay', 0),
    power: num(c, 'power', 0),
    ohem: c.ohem,
    ohemThresh: num(c, 'ohemThresh', 0, 1),
    ohemMinKept: int(c, 'ohemMinKept', 0),
    auxWeight: num(c, 'auxWeight', 0),
    augment,
    seed: int(c, 'seed', 0),
    evalEvery: int(c, 'evalEvery', 0),
    checkpointEvery: int(c, 'checkpointEvery', 0),
    evalMode: c.evalMode,
  };
  if (c.preset !== undefined) {
    if (typeof c.preset !== 'string') fail(`preset must be a string, got ${JSON.stringify(c.preset)}`);
    out.preset = c.preset;
  }
  if (c.evalCrop !== undefined) out.evalCrop = int(c, 'evalCrop', 8);
  if (c.synthetic !== undefined) {
    const s = c.synthetic as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) fail(`synthetic must be an object, got ${JSON.stringify(s)}`);
    for (const key of Object.keys(s))
      if (!SYNTHETIC_FIELDS.includes(key)) fail(`synthetic: unknown field '${key}' (expected one of ${SYNTHETIC_FIELDS.join(', ')})`);
    out.synthetic = {
      seed: int(s, 'seed', 0),
      trainSize: int(s, 'trainSize', 1),
      valSize: int(s, 'valSize', 1),
      size: int(s, 'size', 32),
    };
    if (s.width !== undefined) out.synthetic.width = int(s, 'width', 32);
    if (s.layout !== undefined) {
      if (s.layout !== 'scenes' && s.layout !== 'strips') fail(`synthetic.layout must be 'scenes' or 'strips', got ${JSON.stringify(s.layout)}`);
      out.synthetic.layout = s.layout;
    }
  }
  return out;
}
