// Training checkpoints: everything a resumed run needs to continue bit-identically.
//
//   <name>.safetensors        the model (models.saveCheckpoint: loads in eval/predict as is), with
//                             the iteration in its metadata
//   <name>.optim.safetensors  the SGD momentum buffers, with the run state in its metadata: iteration,
//                             the default generator's state, the schedule, SGD's options and step
//                             count, the loader position and the run config
//
// Each file is written atomically; the optimizer file first, the model file last, and both carry
// the iteration, so a pair torn by a crash between the two writes is detected on resume.
import { existsSync } from 'node:fs';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/checkpoint.js';
import { loadCheckpoint, readCheckpointConfig, saveCheckpoint } from '../models/checkpoint.js';
import { configDifferences, resolveConfig } from '../models/config.js';
import type { ANNModel } from '../models/ann.js';
import type { PolyLRState } from '../optim/poly.js';
import type { SGD, SGDState } from '../optim/sgd.js';
import { defaultGenerator } from '../random.js';
import { Tensor } from '../tensor.js';
import type { TrainConfig } from './run-folder.js';
import { resolveTrainConfig } from './config.js';

const ITER_KEY = 'ann-seg.iter';
const STATE_KEY = 'ann-seg.train-state';

export interface TrainState {
  /** Iterations completed. */
  iter: number;
  /** The default generator (dropout, random sampling) after iteration `iter`. */
  rng: number[];
  scheduler: PolyLRState;
  optimizer: { options: SGDState['options']; steps: number };
  /** The next batch the loader hands out (batch k is a pure function of the seed and k). */
  loaderPosition: number;
  config: TrainConfig;
}

/** The optimizer-state file beside a model checkpoint. */
export function optimPath(modelPath: string): string {
  return modelPath.replace(/\.safetensors$/, '') + '.optim.safetensors';
}

export function saveTrainCheckpoint(path: string, model: ANNModel, optimizer: SGD, state: TrainState): void {
  const sgd = optimizer.stateDict();
  const buffers: Record<string, Tensor> = {};
  sgd.momentumBuffers.forEach((b, i) => {
    if (b) buffers[`momentum.${i}`] = b;
  });
  writeSafetensors(optimPath(path), buffers, { [STATE_KEY]: JSON.stringify(state), [ITER_KEY]: String(state.iter) });
  saveCheckpoint(path, model, { [ITER_KEY]: String(state.iter) });
}

/** The run state stored with a checkpoint; throws one clear line when there is none or it is torn. */
export function readTrainState(path: string): TrainState {
  if (!existsSync(path)) throw new Error(`no checkpoint to resume from: ${path} does not exist`);
  const optim = optimPath(path);
  if (!existsSync(optim)) throw new Error(`${path} has no optimizer state beside it (${optim}); it cannot be resumed`);
  let meta: Record<string, string>;
  let modelMeta: Record<string, string>;
  try {
    meta = readSafetensorsMetadata(optim);
    modelMeta = readSafetensorsMetadata(path);
  } catch (err) {
    throw new Error(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  if (meta[STATE_KEY] === undefined) throw new Error(`${optim} holds no training state (metadata '${STATE_KEY}')`);
  if (meta[ITER_KEY] !== modelMeta[ITER_KEY])
    throw new Error(`${path} (iteration ${modelMeta[ITER_KEY]}) and ${optim} (iteration ${meta[ITER_KEY]}) do not belong together`);
  let state: TrainState;
  try {
    state = JSON.parse(meta[STATE_KEY]) as TrainState;
    state.config = resolveTrainConfig(state.config);
  } catch (err) {
    throw new Error(`${optim}: malformed training state (${(err as Error).message})`);
  }
  const diff = configDifferences(readCheckpointConfig(path), resolveConfig(state.config.model));
  if (diff.length) throw new Error(`${path}: the model does not match its training state: ${diff.join('; ')}`);
  return state;
}

/** Loads model weights, momentum buffers and the default generator's state from a checkpoint. */
export function loadTrainCheckpoint(path: string, model: ANNModel, optimizer: SGD, state: TrainState): void {
  loadCheckpoint(path, { model });
  const tensors = readSafetensors(optimPath(path), { device: optimizer.params[0]?.device });
  try {
    const buffers = optimizer.params.map((_, i) => tensors[`momentum.${i}`] ?? null);
    optimizer.loadStateDict({ options: state.optimizer.options, steps: state.optimizer.steps, momentumBuffers: buffers });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  defaultGenerator.setState(state.rng);
}
