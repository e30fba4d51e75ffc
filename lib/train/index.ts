// train: the training loop, its config and presets, checkpoints and the run folder.
export { Trainer, readRunLog, readRunConfig, stopOnSignal } from './trainer.js';
export type { BatchSource, EvalResult, TrainBatch, TrainerOptions, TrainResult } from './trainer.js';
export { resolveTrainConfig, TRAIN_DEFAULTS } from './config.js';
export { saveTrainCheckpoint, readTrainState, loadTrainCheckpoint, optimPath } from './checkpoint.js';
export type { TrainState } from './checkpoint.js';
export { runPaths, readLog, RUN_FILES } from './run-folder.js';
export type { AblationRow, EvalLogLine, LogLine, RunPaths, RunSummary, TrainConfig, TrainLogLine } from './run-folder.js';
export { PRESETS, DEFAULT_PRESET, preset } from './presets.js';
export type { PresetName } from './presets.js';
export { evaluate } from './evaluate.js';
export type { EvaluateOptions, EvaluateResult } from './evaluate.js';
export { predictLogits, predictMask, argmaxClasses } from './inference.js';
export type { InferenceOptions, SegmentationModel } from './inference.js';
export { ConfusionMatrix } from './metrics.js';
export { colorize, overlay, encodePng } from './overlay.js';
