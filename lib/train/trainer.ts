// The training loop of `ann-seg train`, built from the public API only: models.ANN + models.annLoss
// (OHEM main + 0.4 aux), optim.SGD + PolyLR stepped every iteration, one tidy scope per step,
// periodic evaluation and checkpoints that resume bit-identically (see checkpoint.ts). The model
// lives on one device (the `device` option); batches come from the host and are moved per step.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tidy } from '../autograd/scope.js';
import { copyFileAtomic, writeFileAtomic } from '../io/atomic.js';
import { noGrad } from '../autograd/tape.js';
import { ANN, type ANNModel } from '../models/ann.js';
import { annLoss } from '../models/loss.js';
import { crossEntropy } from '../ops/loss.js';
import { PolyLR } from '../optim/poly.js';
import { SGD } from '../optim/sgd.js';
import { defaultDevice, type Device } from '../device.js';
import { defaultGenerator, manualSeed } from '../random.js';
import type { Tensor } from '../tensor.js';
import { loadTrainCheckpoint, optimPath, readTrainState, saveTrainCheckpoint, type TrainState } from './checkpoint.js';
import { readLog, runPaths, type EvalLogLine, type LogLine, type RunPaths, type TrainConfig, type TrainLogLine } from './run-folder.js';

/** A training batch as the data loader hands it out; the trainer disposes image and label. */
export interface TrainBatch {
  image: Tensor;
  label: Tensor;
}

/** What the trainer needs from a loader (lib/data's DataLoader is one). */
export interface BatchSource {
  next(): Promise<TrainBatch>;
  close?(): void | Promise<void>;
}

export interface EvalResult {
  miou: number;
  pixelAccuracy: number;
  iou: ArrayLike<number>;
  classes: readonly string[];
}

export interface TrainerOptions {
  config: TrainConfig;
  /** The run folder (created if needed). */
  out: string;
  /** A loader whose first batch is batch `startBatch` of the run's sequence. */
  makeLoader(startBatch: number): BatchSource;
  /** Evaluates the model (already in eval mode) on the validation split. */
  evaluate?(model: ANNModel): Promise<EvalResult>;
  /** Continue from <out>/checkpoints/last.safetensors. */
  resume?: boolean;
  /** Called for every log line as it is written. */
  onLog?(line: LogLine): void;
  /**
   * Where the model trains: its parameters, buffers and optimizer state live there and each batch
   * is moved there (default: the default device). Not part of the run's config: a run may resume on
   * another device, bit-identically only on the one it ran on.
   */
  device?: Device;
}

export interface TrainResult {
  /** Iterations completed (== config.iters unless stopped). */
  iter: number;
  stopped: boolean;
  /** The checkpoint written last (null if none was written). */
  checkpoint: string | null;
  lastEval: EvalLogLine | null;
  trainSeconds: number;
  evalSeconds: number;
}

export class Trainer {
  readonly config: TrainConfig;
  readonly paths: RunPaths;
  readonly model: ANNModel;
  readonly optimizer: SGD;
  readonly scheduler: PolyLR;
  readonly device: Device;
  /** Iterations completed. */
  iter = 0;
  #options: TrainerOptions;
  #stop = false;

  /** Builds the model and optimizer; with `resume`, loads the last checkpoint of `out`. */
  constructor(options: TrainerOptions) {
    this.#options = options;
    this.paths = runPaths(options.out);
    let state: TrainState | null = null;
    if (options.resume) {
      state = readTrainState(this.paths.last);
      this.config = state.config;
    } else {
      this.config = options.config;
    }
    const c = this.config;
    // Without model.seed the default generator, seeded here, draws the initial values, dropout masks
    // and random anchors: one stream, whose state the checkpoints hold.
    manualSeed(c.seed);
    // Initialised where the default device is, then moved: the values come from the same host
    // generator on every device, so a CUDA run starts from the CPU run's weights.
    this.device = options.device ?? defaultDevice();
    this.model = ANN(c.model).to(this.device);
    this.model.train();
    this.optimizer = new SGD(this.model.parameters(), { lr: c.lr, momentum: c.momentum, weightDecay: c.weightDecay });
    this.scheduler = new PolyLR(this.optimizer, { maxIters: c.iters, power: c.power });
    if (state) {
      try {
        loadTrainCheckpoint(this.paths.last, this.model, this.optimizer, state);
      } catch (err) {
        this.dispose();
        throw err;
      }
      this.scheduler.loadStateDict(state.scheduler);
      this.iter = state.iter;
    }
  }

  /** Asks the loop to stop after the current step and write a checkpoint (what Ctrl-C does). */
  requestStop(): void {
    this.#stop = true;
  }

  /** The checkpoint path for the current iteration's periodic save. */
  #state(): TrainState {
    return {
      iter: this.iter,
      rng: defaultGenerator.getState(),
      scheduler: this.scheduler.stateDict(),
      optimizer: { options: this.optimizer.stateDict().options, steps: this.optimizer.stateDict().steps },
      loaderPosition: this.iter,
      config: this.config,
    };
  }

  /** Writes last.safetensors (and iter-<k>.safetensors when `keep`); returns the path of last. */
  saveCheckpoint(keep = false): string {
    mkdirSync(this.paths.checkpoints, { recursive: true });
    saveTrainCheckpoint(this.paths.last, this.model, this.optimizer, this.#state());
    if (keep) {
      const k = this.paths.iter(this.iter);
      // Copies of the two finished files; each copy lands atomically through a rename.
      for (const [from, to] of [
        [optimPath(this.paths.last), optimPath(k)],
        [this.paths.last, k],
      ]) {
        copyFileAtomic(from, to);
      }
    }
    return this.paths.last;
  }

  #log(line: LogLine): void {
    appendFileSync(this.paths.log, JSON.stringify(line) + '\n');
    this.#options.onLog?.(line);
  }

  /** Starts the run folder, or on resume drops log lines past the checkpoint (a killed run's tail). */
  #prepareFolder(): void {
    mkdirSync(this.paths.out, { recursive: true });
    if (this.#options.resume && existsSync(this.paths.log)) {
      const kept = readLog(this.paths.log).filter((l) => l.iter <= this.iter);
      writeFileAtomic(this.paths.log, kept.map((l) => JSON.stringify(l) + '\n').join(''));
    } else {
      writeFileAtomic(this.paths.log, '');
    }
    writeFileAtomic(this.paths.config, JSON.stringify(this.config, null, 2) + '\n');
  }

  /** One SGD step on a batch: returns the total loss and its aux term. */
  #step(batch: TrainBatch): { loss: number; lossAux: number } {
    const c = this.config;
    const [loss, aux] = tidy(() => {
      // On the model's device (copies freed with the scope; no-ops when the batch is already there).
      const image = batch.image.to(this.device);
      const label = batch.label.to(this.device);
      const out = this.model.forward(image);
      const total = annLoss(out, label, { ohem: c.ohem, thresh: c.ohemThresh, minKept: c.ohemMinKept, auxWeight: c.auxWeight });
      // The aux term alone, for the log (the graph is annLoss's; this is a cheap extra pass).
      const auxTerm = noGrad(() => crossEntropy(out.aux, label, { ignoreIndex: 255 }));
      return [total, auxTerm];
    });
    try {
      this.optimizer.zeroGrad();
      loss.backward();
      this.optimizer.step();
      return { loss: loss.item(), lossAux: aux.item() };
    } finally {
      loss.dispose();
      aux.dispose();
    }
  }

  async #evaluate(): Promise<EvalLogLine | null> {
    if (!this.#options.evaluate) return null;
    const t0 = performance.now();
    // Evaluation must not move the generator that drives training (a random sampler may draw).
    const rng = defaultGenerator.getState();
    this.model.eval();
    try {
      const r = await this.#options.evaluate(this.model);
      const line: EvalLogLine = {
        type: 'eval',
        iter: this.iter,
        miou: r.miou,
        pixelAccuracy: r.pixelAccuracy,
        iou: Array.from(r.iou, (v) => (Number.isNaN(v) ? null : v)),
        classes: [...r.classes],
        ms: Math.round(performance.now() - t0),
      };
      this.#log(line);
      return line;
    } finally {
      this.model.train();
      defaultGenerator.setState(rng);
    }
  }

  /**
   * Trains to config.iters (or until requestStop, or to iteration `until`: a run in parts), evaluating
   * and checkpointing on the way; a run that stops early writes last.safetensors where it stopped.
   */
  async run({ until }: { until?: number } = {}): Promise<TrainResult> {
    const c = this.config;
    const end = Math.min(until ?? c.iters, c.iters);
    this.#prepareFolder();
    const loader = this.#options.makeLoader(this.iter);
    const start = performance.now();
    let evalMs = 0;
    let checkpoint: string | null = null;
    let lastEval: EvalLogLine | null = null;
    const evaluate = async () => {
      const t = performance.now();
      lastEval = (await this.#evaluate()) ?? lastEval;
      evalMs += performance.now() - t;
    };
    try {
      while (this.iter < end && !this.#stop) {
        // Let signal handlers run between steps even when the next batch is already there.
        await new Promise((resolve) => setImmediate(resolve));
        if (this.#stop) break;
        const t0 = performance.now();
        const batch = await loader.next();
        const dataMs = performance.now() - t0;
        const lr = this.optimizer.lr;
        let step;
        try {
          step = this.#step(batch);
        } finally {
          batch.image.dispose();
          batch.label.dispose();
        }
        this.scheduler.step();
        this.iter++;
        const line: TrainLogLine = {
          type: 'train',
          iter: this.iter,
          loss: step.loss,
          lossMain: step.loss - c.auxWeight * step.lossAux,
          lossAux: step.lossAux,
          lr,
          dataMs: round3(dataMs),
          stepMs: round3(performance.now() - t0),
          time: round3((performance.now() - start - evalMs) / 1000),
        };
        this.#log(line);
        if (!Number.isFinite(step.loss)) throw new Error(`training diverged: loss ${step.loss} at iteration ${this.iter} (lower --lr?)`);
        const done = this.iter === c.iters;
        if (c.checkpointEvery > 0 && this.iter % c.checkpointEvery === 0 && !done) checkpoint = this.saveCheckpoint(true);
        if (c.evalEvery > 0 && this.iter % c.evalEvery === 0 && !done) await evaluate();
      }
      const stopped = this.iter < c.iters;
      checkpoint = this.saveCheckpoint(!stopped && c.checkpointEvery > 0 && this.iter % c.checkpointEvery === 0);
      const trainSeconds = (performance.now() - start - evalMs) / 1000;
      if (!stopped) await evaluate();
      return { iter: this.iter, stopped, checkpoint, lastEval, trainSeconds, evalSeconds: evalMs / 1000 };
    } finally {
      await loader.close?.();
    }
  }

  dispose(): void {
    this.optimizer.zeroGrad();
    this.optimizer.dispose();
    this.model.dispose();
  }
}

/**
 * Ctrl-C (or `signal`) stops the trainer at the next step boundary, where it writes its checkpoint;
 * a second one exits at once. Returns the function that removes the handler.
 */
export function stopOnSignal(trainer: Trainer, signal: NodeJS.Signals = 'SIGINT'): () => void {
  let count = 0;
  const handler = () => {
    if (++count > 1) process.exit(130);
    trainer.requestStop();
  };
  process.on(signal, handler);
  return () => process.off(signal, handler);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The log lines of a finished or interrupted run folder. */
export function readRunLog(out: string): LogLine[] {
  return readLog(runPaths(out).log);
}

/** The config.json of a run folder. */
export function readRunConfig(out: string): unknown {
  return JSON.parse(readFileSync(runPaths(out).config, 'utf8'));
}
