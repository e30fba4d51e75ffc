// The inference flags `eval` and `predict` share: --mode, --crop, --stride, --flip, --scales.
import { resolveInference, type InferenceOptions } from '../train/inference.js';
import { numberOption, stringOption, UsageError, type Parsed } from './args.js';

/** The option specs of the inference flags, for parseCommandArgs. */
export const INFERENCE_OPTIONS = {
  mode: { type: 'string' },
  crop: { type: 'string' },
  stride: { type: 'string' },
  flip: { type: 'boolean' },
  scales: { type: 'string' },
} as const;

/** '0.75,1,1.25' -> [0.75, 1, 1.25]; anything else is a usage error naming the flag. */
export function parseScales(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const scales = parts.map(Number);
  if (parts.some((s) => s === '') || !scales.every((s) => Number.isFinite(s) && s > 0))
    throw new UsageError(`--scales must be a comma-separated list of positive numbers (e.g. 0.75,1,1.25), got '${text}'`);
  return scales;
}

/** The inference flags shared by eval and predict. */
export function inferenceFlags(values: Parsed['values']): InferenceOptions {
  const mode = stringOption(values, 'mode') ?? 'whole';
  if (mode !== 'whole' && mode !== 'slide') throw new UsageError(`--mode must be 'whole' or 'slide', got '${mode}'`);
  const crop = numberOption(values, 'crop', { integer: true, min: 8 });
  const stride = numberOption(values, 'stride', { integer: true, min: 1 });
  if (mode === 'slide' && crop === undefined) throw new UsageError('--mode slide needs --crop (the window size in pixels)');
  if (mode === 'whole' && (crop !== undefined || stride !== undefined)) throw new UsageError('--crop and --stride go with --mode slide');
  const scalesText = stringOption(values, 'scales');
  const options: InferenceOptions = {
    mode,
    flip: values.flip === true,
    scales: scalesText === undefined ? [1] : parseScales(scalesText),
    ...(crop === undefined ? {} : { crop }),
    ...(stride === undefined ? {} : { stride }),
  };
  try {
    resolveInference(options);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^inference: /, ''));
  }
  return options;
}

/** One line saying how images are inferred. */
export function describeInference(o: InferenceOptions): string {
  const how = o.mode === 'slide' ? `sliding ${o.crop}px windows${o.stride ? ` every ${o.stride}px` : ''}` : 'whole image';
  return `${how}, scales ${(o.scales ?? [1]).join(', ')}${o.flip ? ', + flip' : ''}`;
}
