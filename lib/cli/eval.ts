// `ann-seg eval`: a checkpoint's mIoU, per-class IoU and pixel accuracy on a dataset, inferred as
// the official tester does (whole image or sliding windows, optional flip and scales).
import cliProgress from 'cli-progress';

import { openDataset } from '../data/folders.js';
import { synthetic } from '../data/synthetic.js';
import type { SegDataset } from '../data/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { runConfigOf } from '../train/class-names.js';
import { evaluate, type EvaluateResult } from '../train/evaluate.js';
import { openDatasets } from '../train/session.js';
import { numberOption, parseCommandArgs, stringOption, UsageError, type Command } from './args.js';
import { DEVICE_OPTION, deviceFlag } from './device-arg.js';
import { checkpointArg, describeModel, loadModelArg, type CheckpointArg } from './checkpoint-arg.js';
import { describeInference, INFERENCE_OPTIONS, inferenceFlags } from './inference-args.js';

const OPTIONS = {
  checkpoint: { type: 'string' },
  data: { type: 'string' },
  split: { type: 'string' },
  ...INFERENCE_OPTIONS,
  ...DEVICE_OPTION,
  limit: { type: 'string' },
  json: { type: 'string' },
} as const;

/** The validation data --data names: the embedded split (the checkpoint's run's, if known) or a folder. */
async function openEvalData(data: string, split: string | undefined, checkpoint: CheckpointArg): Promise<SegDataset> {
  if (data === 'synthetic') {
    if (split !== undefined && split !== 'val' && split !== 'train') throw new UsageError(`--split for synthetic data is 'val' or 'train', got '${split}'`);
    const run = runConfigOf(checkpoint.path);
    // The run's own split sizes and seed when the checkpoint sits in a run folder that trained on it.
    const splits = run?.data === 'synthetic' ? await openDatasets(run) : { train: synthetic({ split: 'train' }), val: synthetic({ split: 'val' }) };
    return split === 'train' ? splits.train : splits.val;
  }
  try {
    return openDataset(data, { split: split ?? 'val' });
  } catch (err) {
    throw new UsageError(`--data ${data}: ${(err as Error).message}`);
  }
}

const pct = (x: number) => (Number.isNaN(x) ? '   -' : (100 * x).toFixed(2).padStart(6));

/** The per-class table and the totals, as printed. */
export function formatResult(r: EvaluateResult): string {
  const width = Math.max(10, ...r.classes.map((c) => c.length));
  const present = r.iou.filter((v) => !Number.isNaN(v)).length;
  const lines = [`${'class'.padEnd(width)}  IoU (%)  acc (%)`];
  r.classes.forEach((c, i) => lines.push(`${c.padEnd(width)}  ${pct(r.iou[i]).padStart(7)}  ${pct(r.classAccuracy[i]).padStart(7)}`));
  lines.push(
    `${'mIoU'.padEnd(width)}  ${pct(r.miou).padStart(7)}  (over ${present} of ${r.classes.length} classes; '-' = in neither truth nor prediction)`,
    `${'pixel acc.'.padEnd(width)}  ${pct(r.pixelAccuracy).padStart(7)}  (${r.confusion.total.toLocaleString('en-US')} labelled pixels in ${r.images} images)`,
  );
  return lines.join('\n');
}

async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, OPTIONS);
  const data = stringOption(values, 'data');
  if (data === undefined) throw new UsageError("--data is required ('synthetic' for the embedded val split, or a dataset folder)");
  const inference = inferenceFlags(values);
  const device = deviceFlag(values);
  const limit = numberOption(values, 'limit', { integer: true, min: 1 });
  const json = stringOption(values, 'json');
  const checkpoint = checkpointArg(stringOption(values, 'checkpoint'));
  const dataset = await openEvalData(data, stringOption(values, 'split'), checkpoint);
  const k = checkpoint.config.numClasses;
  if (k !== dataset.classes.length)
    throw new UsageError(`--checkpoint ${checkpoint.path} predicts ${k} classes, but ${dataset.name} has ${dataset.classes.length} (${dataset.classes.join(', ')})`);

  console.log(`checkpoint  ${checkpoint.path} (${describeModel(checkpoint)})`);
  console.log(`data        ${dataset.name}`);
  console.log(`inference   ${describeInference(inference)} on ${device}`);
  const total = Math.min(dataset.length, limit ?? Infinity);
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'eval [{bar}] {value}/{total} images | ETA {eta}s', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  using model = loadModelArg(checkpoint, device);
  const started = performance.now();
  let result: EvaluateResult;
  bar?.start(total, 0);
  try {
    result = await evaluate(model, dataset, { ...inference, ...(limit ? { limit } : {}), onProgress: (done) => bar?.update(done) });
  } catch (err) {
    // A bad file in the dataset (unreadable image, mask with ids outside the classes): one line.
    throw new UsageError((err as Error).message);
  } finally {
    bar?.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(formatResult(result));
  console.log(`${result.images} images in ${seconds.toFixed(1)} s`);
  if (json !== undefined) {
    const { confusion, ...metrics } = result;
    const out = {
      checkpoint: checkpoint.path,
      data: dataset.name,
      inference,
      device,
      ...metrics,
      iou: metrics.iou.map((v) => (Number.isNaN(v) ? null : v)),
      classAccuracy: metrics.classAccuracy.map((v) => (Number.isNaN(v) ? null : v)),
      confusion: confusion.toRows(),
      seconds,
    };
    writeFileAtomic(json, JSON.stringify(out, null, 2) + '\n');
    console.log(`results     ${json}`);
  }
  return 0;
}

export const evalCommand: Command = {
  summary: "a checkpoint's mIoU, per-class IoU and pixel accuracy on a dataset",
  help: `usage: ann-seg eval --checkpoint FILE|RUN_DIR --data synthetic|PATH [--split name]
                    [--mode whole|slide] [--crop px] [--stride px] [--flip] [--scales 0.75,1,1.25]
                    [--limit n] [--json out.json] [--device cpu|cuda]

Infers every image of the dataset as the official ANN tester does and counts one confusion
matrix over all of them: per-class IoU, mIoU (over the classes present in truth or prediction)
and pixel accuracy; label 255 is ignored.
  --data synthetic   the embedded validation split (the checkpoint's run's, when it lies in a
                     run folder); PATH: a Cityscapes-layout or plain-layout folder
  --split            the folder's split (default val); synthetic: val or train
  --mode whole       one forward per image (default)
  --mode slide       windows of --crop px every --stride px (default 2/3 of the crop), logits
                     averaged where windows overlap
  --flip             also infer the mirrored image; --scales infers resized copies; the main
                     head's logits are averaged over all of them at the image's size
  --json FILE        also write the metrics and the confusion matrix as JSON
  --device           cpu or cuda (default: ANN_SEG_DEVICE, else cpu); the metrics are counted
                     on the host from the logits`,
  run,
};
