// `ann-seg predict`: class masks of images, as colour-coded PNGs and as overlays on the image.
import { existsSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';

import { readImage } from '../data/folders.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkpointClasses } from '../train/class-names.js';
import { predictMask } from '../train/inference.js';
import { colorize, encodePng, overlay } from '../train/overlay.js';
import { numberOption, parseCommandArgs, stringOption, UsageError, type Command } from './args.js';
import { DEVICE_HELP, DEVICE_OPTION, deviceFlag } from './device-arg.js';
import { checkpointArg, describeModel, loadModelArg } from './checkpoint-arg.js';
import { describeInference, INFERENCE_OPTIONS, inferenceFlags } from './inference-args.js';

const OPTIONS = {
  checkpoint: { type: 'string' },
  out: { type: 'string' },
  ...INFERENCE_OPTIONS,
  ...DEVICE_OPTION,
  alpha: { type: 'string' },
} as const;

/** The output files of one input image. */
export function outputNames(image: string, out: string): { mask: string; overlay: string } {
  const stem = basename(image, extname(image));
  return { mask: join(out, `${stem}_mask.png`), overlay: join(out, `${stem}_overlay.png`) };
}

async function run(args: string[]): Promise<number> {
  const { values, positionals: images } = parseCommandArgs(args, OPTIONS, true);
  if (images.length === 0) throw new UsageError('no images given (ann-seg predict --checkpoint FILE img.png [...] --out DIR)');
  const outArg = stringOption(values, 'out');
  if (outArg === undefined) throw new UsageError('--out is required (the folder for the masks and overlays)');
  const out = resolve(outArg);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${outArg}: exists and is not a folder`);
  const alpha = numberOption(values, 'alpha', { min: 0, max: 1 }) ?? 0.5;
  const inference = inferenceFlags(values);
  const device = deviceFlag(values);
  for (const f of images) {
    if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
    if (statSync(f).isDirectory()) throw new UsageError(`${f}: is a folder, not an image`);
  }
  const seen = new Map<string, string>();
  for (const f of images) {
    const name = outputNames(f, out).mask;
    if (seen.has(name)) throw new UsageError(`${seen.get(name)} and ${f} would both write ${name} (give images with different names)`);
    seen.set(name, f);
  }
  const checkpoint = checkpointArg(stringOption(values, 'checkpoint'));
  const { classes, palette, source } = checkpointClasses(checkpoint.path, checkpoint.metadata, checkpoint.config.numClasses);
  console.log(`checkpoint  ${checkpoint.path} (${describeModel(checkpoint)})`);
  console.log(`classes     ${classes.map((c, i) => `${c} rgb(${palette[i].join(',')})`).join(', ')}  [from ${source}]`);
  console.log(`inference   ${describeInference(inference)} on ${device}`);
  using model = loadModelArg(checkpoint, device);
  for (const file of images) {
    const started = performance.now();
    let mask: Uint8Array;
    let decoded: Awaited<ReturnType<typeof readImage>>;
    try {
      decoded = await readImage(file);
      mask = predictMask(model, { image: decoded.data, label: new Uint8Array(decoded.height * decoded.width).fill(255), height: decoded.height, width: decoded.width, name: file }, inference);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const { height, width, data } = decoded;
    const names = outputNames(file, out);
    writeFileAtomic(names.mask, await encodePng(colorize(mask, palette), width, height));
    writeFileAtomic(names.overlay, await encodePng(overlay(data, mask, palette, alpha), width, height));
    const counts = new Map<number, number>();
    for (const c of mask) counts.set(c, (counts.get(c) ?? 0) + 1);
    const top = [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([c, n]) => `${classes[c]} ${((100 * n) / mask.length).toFixed(1)}%`);
    console.log(`${file} (${width}x${height}, ${(performance.now() - started).toFixed(0)} ms): ${top.join(', ')} -> ${names.mask}, ${names.overlay}`);
  }
  console.log(`${images.length} image${images.length === 1 ? '' : 's'} -> ${out}`);
  return 0;
}

export const predictCommand: Command = {
  summary: 'colour-coded class masks and overlays of images, from a checkpoint',
  help: `usage: ann-seg predict --checkpoint FILE|RUN_DIR IMAGE [IMAGE ...] --out DIR
                       [--mode whole|slide] [--crop px] [--stride px] [--flip] [--scales 0.75,1,1.25]
                       [--alpha 0.5] [--device cpu|cuda]

For each IMAGE writes DIR/<name>_mask.png (each class in its colour) and DIR/<name>_overlay.png
(the image blended with the mask, --alpha of the colour). Class names and colours come from the
checkpoint's metadata, else the run it belongs to, else a fixed palette. Inference options as in
'ann-seg eval'.
${DEVICE_HELP}`,
  run,
};
