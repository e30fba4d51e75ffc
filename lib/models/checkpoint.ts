// ANN checkpoints as safetensors: the state dict under the official names, and the config as JSON
// in the file's metadata, so a checkpoint rebuilds its own model. The official layout (no
// metadata, keys possibly prefixed by DataParallel's `module.`) loads into a model built from a
// config the caller gives.
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/checkpoint.js';
import type { StateDict } from '../nn/module.js';
import { ANN, ANNModel } from './ann.js';
import { stripModulePrefix } from './prefix.js';
import { configDifferences, resolveConfig, type ANNConfig, type ResolvedANNConfig } from './config.js';

/** Metadata keys this library writes; extra metadata may not use them. */
export const CONFIG_KEY = 'ann-seg.config';
export const FORMAT_KEY = 'ann-seg.format';
export const FORMAT = 'ann-seg/ANN@1';

/** Writes the model's state dict and config (plus any string metadata in `extra`). */
export function saveCheckpoint(path: string, model: ANNModel, extra: Record<string, string> = {}): void {
  if (!(model instanceof ANNModel)) throw new Error(`saveCheckpoint: ${path}: expected a models.ANN model`);
  for (const key of [CONFIG_KEY, FORMAT_KEY])
    if (key in extra) throw new Error(`saveCheckpoint: ${path}: metadata key '${key}' is reserved`);
  writeSafetensors(path, model.stateDict(), { ...extra, [FORMAT_KEY]: FORMAT, [CONFIG_KEY]: JSON.stringify(model.config) });
}

/** The config stored in an ann-seg checkpoint (throws if the file has none). */
export function readCheckpointConfig(path: string): ResolvedANNConfig {
  const meta = readSafetensorsMetadata(path);
  const text = meta[CONFIG_KEY];
  if (text === undefined)
    throw new Error(
      `loadCheckpoint: ${path} holds no ANN config (metadata '${CONFIG_KEY}'); ` +
        'for a checkpoint with the official key names use models.loadANNCheckpoint(path, config)',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`loadCheckpoint: ${path}: metadata '${CONFIG_KEY}' is not JSON (${(err as Error).message})`);
  }
  try {
    return resolveConfig(parsed as ANNConfig);
  } catch (err) {
    throw new Error(`loadCheckpoint: ${path}: ${(err as Error).message}`);
  }
}

/** Copies a state dict into the model strictly, freeing the dict's tensors whatever happens. */
function loadInto(model: ANNModel, dict: StateDict, path: string): void {
  try {
    model.loadStateDict(dict, { strict: true });
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  } finally {
    for (const t of Object.values(dict)) t.dispose();
  }
}

export interface LoadCheckpointOptions {
  /** Load into this model instead of building one; its config must match the checkpoint's. */
  model?: ANNModel;
}

/**
 * Rebuilds the model a checkpoint of saveCheckpoint describes and loads its weights strictly.
 * With `model`, loads into it after checking that the checkpoint was saved for the same network.
 */
export function loadCheckpoint(path: string, { model }: LoadCheckpointOptions = {}): ANNModel {
  const config = readCheckpointConfig(path);
  if (model) {
    const diff = configDifferences(config, model.config);
    if (diff.length)
      throw new Error(`loadCheckpoint: ${path} is a checkpoint for another ANN config (checkpoint vs model): ${diff.join('; ')}`);
  }
  const target = model ?? ANN(config);
  try {
    loadInto(target, readSafetensors(path, { device: target.parameters()[0]?.device }), `loadCheckpoint: ${path}`);
  } catch (err) {
    if (!model) target.dispose();
    throw err;
  }
  return target;
}

/**
 * Loads a checkpoint in the official layout (MendelXu/ANN's key names, optionally all prefixed
 * `module.`) strictly into a new model of the given config (default: the official depth-101,
 * 19-class network).
 */
export function loadANNCheckpoint(path: string, config: ANNConfig = {}): ANNModel {
  const model = ANN(config);
  try {
    const device = model.parameters()[0]?.device;
    loadInto(model, stripModulePrefix(readSafetensors(path, { device })), `loadANNCheckpoint: ${path}`);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
