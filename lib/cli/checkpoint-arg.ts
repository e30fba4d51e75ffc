// The --checkpoint flag of `eval` and `predict`: a model checkpoint (or a run folder, meaning its
// checkpoints/last.safetensors) loaded with every way it can be wrong said in one line.
import { existsSync, statSync } from 'node:fs';

import { readSafetensorsMetadata } from '../io/checkpoint.js';
import type { Device } from '../device.js';
import type { ANNModel } from '../models/ann.js';
import { CONFIG_KEY, loadCheckpoint, readCheckpointConfig } from '../models/checkpoint.js';
import type { ResolvedANNConfig } from '../models/config.js';
import { runPaths } from '../train/run-folder.js';
import { UsageError } from './args.js';

export interface CheckpointArg {
  path: string;
  config: ResolvedANNConfig;
  metadata: Record<string, string>;
}

/** Finds and checks the checkpoint (without loading its weights). */
export function checkpointArg(given: string | undefined): CheckpointArg {
  if (given === undefined) throw new UsageError('--checkpoint is required (a .safetensors file written by ann-seg train, or a run folder)');
  if (!existsSync(given)) throw new UsageError(`--checkpoint ${given}: no such file`);
  let path = given;
  if (statSync(given).isDirectory()) {
    path = runPaths(given).last;
    if (!existsSync(path)) throw new UsageError(`--checkpoint ${given}: a folder without checkpoints/last.safetensors (give a .safetensors file)`);
  }
  let metadata: Record<string, string>;
  try {
    metadata = readSafetensorsMetadata(path);
  } catch (err) {
    throw new UsageError(`--checkpoint ${path}: not a readable safetensors checkpoint (${(err as Error).message})`);
  }
  if (metadata[CONFIG_KEY] === undefined) {
    const optim = path.endsWith('.optim.safetensors') ? `; this is the optimizer state, the model is ${path.replace(/\.optim\.safetensors$/, '.safetensors')}` : '';
    throw new UsageError(`--checkpoint ${path}: not an ann-seg model checkpoint (no '${CONFIG_KEY}' in its metadata${optim})`);
  }
  try {
    return { path, config: readCheckpointConfig(path), metadata };
  } catch (err) {
    throw new UsageError(`--checkpoint ${path}: ${(err as Error).message}`);
  }
}

/** Loads the checkpoint's model onto `device` (the caller disposes it). */
export function loadModelArg(c: CheckpointArg, device: Device): ANNModel {
  try {
    return loadCheckpoint(c.path).to(device);
  } catch (err) {
    throw new UsageError(`--checkpoint ${c.path}: ${(err as Error).message}`);
  }
}

/** One line describing the checkpoint's network. */
export function describeModel(c: CheckpointArg): string {
  const m = c.config;
  return `ANN ${m.variant}, depth ${m.depth}, width ${m.width}, ${m.numClasses} classes`;
}
