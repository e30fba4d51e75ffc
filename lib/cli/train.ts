// `ann-seg train`: a preset (or a config file) plus flags -> a run folder with its log, checkpoints,
// plots and report. With no arguments: the small preset on the embedded dataset, in minutes on a CPU.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { native } from '../native/index.js';
import { readTrainState } from '../train/checkpoint.js';
import { cropText, resolveTrainConfig } from '../train/config.js';
import { DEFAULT_PRESET, preset, PRESETS } from '../train/presets.js';
import { finishRun } from '../train/finish.js';
import { runPaths, type LogLine, type TrainConfig } from '../train/run-folder.js';
import { makeTrainer, openDatasets, withDataClasses } from '../train/session.js';
import { stopOnSignal } from '../train/trainer.js';
import { cropOption, numberOption, parseCommandArgs, stringOption, UsageError, type Command } from './args.js';
import { DEVICE_HELP, DEVICE_OPTION, deviceFlag } from './device-arg.js';

const OPTIONS = {
  config: { type: 'string' },
  preset: { type: 'string' },
  data: { type: 'string' },
  iters: { type: 'string' },
  batch: { type: 'string' },
  crop: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  variant: { type: 'string' },
  'eval-every': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean' },
  ...DEVICE_OPTION,
} as const;

function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file '${path}' is not valid JSON: ${(err as Error).message}`);
  }
}

/** The run config from --config or --preset, then the flags on top; one line for any bad value. */
function buildConfig(values: ReturnType<typeof parseCommandArgs>['values']): TrainConfig {
  const configFile = stringOption(values, 'config');
  const presetName = stringOption(values, 'preset');
  if (configFile && presetName) throw new UsageError('give --config or --preset, not both');
  let base: Record<string, unknown>;
  if (configFile) {
    const parsed = readConfigFile(configFile);
    // A config file may start from a preset and change a few fields.
    const from = (parsed as { preset?: unknown })?.preset;
    base = typeof from === 'string' && Object.hasOwn(PRESETS, from) ? { ...preset(from), ...(parsed as object) } : (parsed as Record<string, unknown>);
  } else {
    try {
      base = { ...preset(presetName ?? DEFAULT_PRESET) };
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const flags: Record<string, unknown> = {
    data: stringOption(values, 'data'),
    iters: numberOption(values, 'iters', { integer: true, min: 1 }),
    batch: numberOption(values, 'batch', { integer: true, min: 1 }),
    crop: cropOption(values),
    lr: numberOption(values, 'lr', { min: 0 }),
    seed: numberOption(values, 'seed', { integer: true, min: 0 }),
    evalEvery: numberOption(values, 'eval-every', { integer: true, min: 0 }),
    checkpointEvery: numberOption(values, 'checkpoint-every', { integer: true, min: 0 }),
  };
  const config = { ...base };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) config[k] = v;
  const variant = stringOption(values, 'variant');
  if (variant !== undefined) config.model = { ...(config.model as object), variant };
  try {
    return resolveTrainConfig(config);
  } catch (err) {
    throw new UsageError(configFile ? `${configFile}: ${(err as Error).message}` : (err as Error).message);
  }
}

const SET_BY_FLAGS = ['config', 'preset', 'data', 'iters', 'batch', 'crop', 'lr', 'seed', 'variant', 'eval-every', 'checkpoint-every'];

/** Prints progress: a cli-progress bar on a terminal, a line every ~5% (and every eval) otherwise. */
function progressPrinter(config: TrainConfig, startIter: number) {
  const tty = process.stdout.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: 'train |{bar}| {value}/{total} | loss {loss} | lr {lr} | {speed} it/s | ETA {eta_formatted}', etaBuffer: 50, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(config.iters, startIter, { loss: '-', lr: '-', speed: '-' });
  const every = Math.max(1, Math.round(config.iters / 20));
  const t0 = performance.now();
  let firstIter = startIter;
  let ema = 0;
  return {
    onLog(line: LogLine) {
      if (line.type === 'eval') {
        const msg = `eval at ${line.iter}: mIoU ${(100 * line.miou).toFixed(2)}%, pixel accuracy ${(100 * line.pixelAccuracy).toFixed(2)}% (${(line.ms / 1000).toFixed(1)} s)`;
        // A line above the bar on a terminal (cli-progress redraws below it).
        if (bar) process.stdout.write(`\r\x1b[K${msg}\n`);
        else console.log(msg);
        return;
      }
      ema = line.iter === firstIter + 1 ? line.loss : 0.9 * ema + 0.1 * line.loss;
      const secs = (performance.now() - t0) / 1000;
      const speed = (line.iter - firstIter) / Math.max(secs, 1e-9);
      if (bar) bar.update(line.iter, { loss: ema.toFixed(4), lr: line.lr.toExponential(2), speed: speed.toFixed(2) });
      else if (line.iter % every === 0 || line.iter === config.iters) {
        const eta = (config.iters - line.iter) / Math.max(speed, 1e-9);
        console.log(
          `iter ${line.iter}/${config.iters} loss ${ema.toFixed(4)} (main ${line.lossMain.toFixed(4)}, aux ${line.lossAux.toFixed(4)}) ` +
            `lr ${line.lr.toExponential(2)} ${speed.toFixed(2)} it/s data ${line.dataMs.toFixed(1)} ms/step ${line.stepMs.toFixed(0)} ms ETA ${Math.round(eta)} s`,
        );
      }
    },
    reset(iter: number) {
      firstIter = iter;
    },
    stop() {
      bar?.stop();
    },
  };
}

async function train(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, OPTIONS);
  const out = resolve(stringOption(values, 'out') ?? 'runs/train');
  const resume = values.resume === true;
  const device = deviceFlag(values);
  let config: TrainConfig;
  if (resume) {
    try {
      config = readTrainState(runPaths(out).last).config;
    } catch (err) {
      throw new UsageError(`--resume: ${(err as Error).message}`);
    }
    // Flags that would change the run cannot be honoured bit-identically: the checkpoint's config wins.
    const given = SET_BY_FLAGS.filter((f) => values[f] !== undefined);
    if (given.length) {
      const asked = buildConfig(values);
      const want = { ...asked, model: { ...asked.model, numClasses: config.model.numClasses } };
      const diff = Object.keys(want).filter((k) => k !== 'preset' && JSON.stringify(want[k as keyof TrainConfig]) !== JSON.stringify(config[k as keyof TrainConfig]));
      if (diff.length) throw new UsageError(`--resume: the checkpoint in ${out} was trained with another ${diff.join(', ')} (resume takes the run's own config; drop those flags)`);
    }
  } else {
    config = buildConfig(values);
  }
  let data;
  try {
    data = await openDatasets(config);
    if (!resume) config = withDataClasses(config, data);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const progress = progressPrinter(config, 0);
  const trainer = makeTrainer(config, data, { out, resume, device, onLog: (l) => progress.onLog(l) });
  progress.reset(trainer.iter);
  console.log(
    `${resume ? `resuming at iteration ${trainer.iter} of` : 'training'} ${config.preset ?? 'custom'}: ${config.model.variant}, depth ${config.model.depth}, width ${config.model.width} | ${data.train.name} | ` +
      `batch ${config.batch}, crop ${cropText(config.crop)}, ${config.iters} iterations, lr ${config.lr} | ${device === 'cuda' ? `cuda: ${native.info().cuda}` : `${native.info().threads} threads`} -> ${out}`,
  );
  const removeHandler = stopOnSignal(trainer);
  let result;
  try {
    result = await trainer.run();
  } catch (err) {
    // An unreadable image, a bad mask, a diverged loss: one line, not a stack trace.
    progress.stop();
    console.error(`ann-seg train: ${(err as Error).message}`);
    return 1;
  } finally {
    removeHandler();
    progress.stop();
    trainer.dispose();
  }
  if (result.stopped) {
    console.log(`stopped at iteration ${result.iter}; checkpoint written to ${result.checkpoint}; continue with: ann-seg train --out ${out} --resume`);
    return 130;
  }
  const finished = await finishRun(out, result);
  const ev = result.lastEval;
  console.log(
    `done: ${result.iter} iterations in ${result.trainSeconds.toFixed(0)} s (+ ${result.evalSeconds.toFixed(0)} s evaluation)` +
      (ev ? `; validation mIoU ${(100 * ev.miou).toFixed(2)}% (pixel accuracy ${(100 * ev.pixelAccuracy).toFixed(2)}%) on ${data.val.name}` : ''),
  );
  console.log(`checkpoint: ${result.checkpoint}`);
  console.log(`plots:      ${finished.plots.join(', ')}`);
  console.log(`report:     ${finished.report}`);
  return 0;
}

export const trainCommand: Command = {
  summary: 'train ANN on the embedded dataset or a dataset folder',
  help: `usage: ann-seg train [--config f.json | --preset name] [--data synthetic|PATH] [--iters n]
                     [--batch n] [--crop px|HxW] [--lr x] [--seed n] [--variant v]
                     [--eval-every n] [--checkpoint-every n] [--out dir] [--resume]
                     [--device cpu|cuda]

Trains with SGD (momentum 0.9, weight decay 5e-4), the poly schedule (power 0.9) and
the official loss (OHEM cross-entropy + 0.4 x aux), evaluating on the validation split.
With no arguments: the '${DEFAULT_PRESET}' preset on the embedded synthetic dataset.

  --preset       ${Object.keys(PRESETS).join(', ')} (default ${DEFAULT_PRESET})
  --config       a JSON run config (as a run's config.json; "preset" fills what it leaves out)
  --data         'synthetic' or a folder (Cityscapes layout, or images/ + masks/ + classes.json)
  --variant      a Table 6 row (baseline, nb, apnb, ..., full)
  --crop         the training crop: a side (64) or HEIGHTxWIDTH (64x512)
  --out          the run folder (default runs/train): config.json, log.jsonl,
                 checkpoints/, plots/, index.html
  --resume       continue the run in --out from checkpoints/last.safetensors, bit-identically
                 (on the device it ran on: another device continues it, not bit for bit)
${DEVICE_HELP}

Ctrl-C writes a checkpoint at the next step boundary and exits with status 130.`,
  run: train,
};
