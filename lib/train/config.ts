// A training run's config: defaults and checks. Plain JSON (config.json, checkpoints), checked field
// by field so a bad config file fails with one line naming the field.
import { resolveConfig, type ANNConfig, type ResolvedANNConfig } from '../models/config.js';
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
  if (typeof c.augment !== 'boolean') fail(`augment must be true or false, got ${JSON.stringify(c.augment)}`);
  if (c.evalMode !== 'whole' && c.evalMode !== 'slide') fail(`evalMode must be 'whole' or 'slide', got ${JSON.stringify(c.evalMode)}`);
  const out: TrainConfig = {
    model,
    data: c.data,
    iters: int(c, 'iters', 1),
    batch: int(c, 'batch', 1),
    crop: int(c, 'crop', 8),
    lr: num(c, 'lr', 0),
    momentum: num(c, 'momentum', 0),
    weightDecay: num(c, 'weightDecay', 0),
    power: num(c, 'power', 0),
    ohem: c.ohem,
    ohemThresh: num(c, 'ohemThresh', 0, 1),
    ohemMinKept: int(c, 'ohemMinKept', 0),
    auxWeight: num(c, 'auxWeight', 0),
    augment: c.augment,
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
    out.synthetic = {
      seed: int(s, 'seed', 0),
      trainSize: int(s, 'trainSize', 1),
      valSize: int(s, 'valSize', 1),
      size: int(s, 'size', 32),
    };
  }
  return out;
}
