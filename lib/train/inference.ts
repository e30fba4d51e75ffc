// Inference of one image as the official tester does it (MendelXu/ANN's fcn_segmentor_test.py, on
// openseg): the main head's logits, from the whole image or from sliding windows, optionally over
// several scales and the mirrored image, averaged at the image's own size.
//
// - whole: one forward of the image (ss_test).
// - slide: windows of `crop` every `stride` pixels, plus one flush with the far edge so the image is
//   covered (openseg's _decide_intersection; stride defaults to its crop_stride_ratio 0.667). A side
//   shorter than the window is taken whole, without padding, as openseg and mmsegmentation's
//   slide_inference do, so the model sees no pixels that are not in the image. Each pixel's logits
//   are the mean over the windows that cover it (a count map).
// - scales / flip: the raw image is resized (bilinear, half-pixel centres, as cv2.resize in the
//   official get_blob) and/or mirrored by data's resampler, inferred, and its logits resized back
//   bilinearly (align_corners=False) and un-mirrored. What is averaged is the main head's logits,
//   as the official ms_test sums them (mmsegmentation averages softmax probabilities instead);
//   the arg-max is the same whether they are summed or averaged.
// The image is made on the host and moved to the model's device (its parameters'); logits come back
// to the host, where they are averaged and the arg-max taken.
import { tidy } from '../autograd/scope.js';
import { noGrad } from '../autograd/tape.js';
import { resample, scaledSize } from '../data/augment.js';
import { toInputTensor } from '../data/normalize.js';
import type { RawSample } from '../data/types.js';
import { OUTPUT_STRIDE } from '../models/ann.js';
import { narrow } from '../ops/shape.js';
import { interpolate } from '../ops/interp.js';
import { defaultDevice, type Device } from '../device.js';
import { tensor, type Tensor } from '../tensor.js';

/** What inference needs of a model: the ANN network, or any module with its forward's `main` logits. */
export interface SegmentationModel {
  call(x: Tensor): { main: Tensor };
  training: boolean;
  train(mode?: boolean): unknown;
  /** A module's parameters: the first one's device is where inference runs (else the default device). */
  parameters?(): readonly { device: Device }[];
}

/** Where a model computes: its first parameter's device, or the default device. */
export function modelDevice(model: SegmentationModel): Device {
  return model.parameters?.()[0]?.device ?? defaultDevice();
}

export interface InferenceOptions {
  /** 'whole' (default) or 'slide'. */
  mode?: 'whole' | 'slide';
  /** Slide: the window, [h, w] or square. Required for 'slide'. */
  crop?: number | readonly [number, number];
  /** Slide: the step between windows; default floor(crop * 2 / 3) (openseg's stride ratio 0.667). */
  stride?: number | readonly [number, number];
  /** Also infer the mirrored image and average. Default false. */
  flip?: boolean;
  /** Image scales to infer at and average; default [1]. */
  scales?: readonly number[];
}

export interface ResolvedInference {
  mode: 'whole' | 'slide';
  crop: [number, number] | null;
  stride: [number, number] | null;
  flip: boolean;
  scales: number[];
}

/** Mean logits of one image: [numClasses, height, width], class-major. */
export interface ImageLogits {
  logits: Float32Array;
  numClasses: number;
  height: number;
  width: number;
}

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** Checks inference options and fills in the defaults; throws naming the bad option. */
export function resolveInference(options: InferenceOptions = {}): ResolvedInference {
  const known = ['mode', 'crop', 'stride', 'flip', 'scales'];
  for (const key of Object.keys(options))
    if (!known.includes(key)) throw new Error(`inference: unknown option '${key}' (expected ${known.join(', ')})`);
  const mode = options.mode ?? 'whole';
  if (mode !== 'whole' && mode !== 'slide') throw new Error(`inference: mode must be 'whole' or 'slide', got ${JSON.stringify(mode)}`);
  const isPair = (v: unknown) =>
    typeof v === 'number' || (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number'));
  const positive = (name: string, v: unknown, min: number): [number, number] => {
    if (!isPair(v) || !pair(v as number).every((n) => Number.isInteger(n) && n >= min))
      throw new Error(`inference: ${name} must be an integer >= ${min} or [h, w] of them, got ${JSON.stringify(v)}`);
    return pair(v as number);
  };
  let crop: [number, number] | null = null;
  let stride: [number, number] | null = null;
  if (mode === 'slide') {
    if (options.crop === undefined) throw new Error("inference: mode 'slide' needs a crop (the window size)");
    crop = positive('crop', options.crop, OUTPUT_STRIDE);
    stride = options.stride === undefined ? [Math.max(1, Math.floor((crop[0] * 2) / 3)), Math.max(1, Math.floor((crop[1] * 2) / 3))] : positive('stride', options.stride, 1);
    if (stride[0] > crop[0] || stride[1] > crop[1])
      throw new Error(`inference: stride ${JSON.stringify(stride)} is larger than the crop ${JSON.stringify(crop)}; windows would leave gaps`);
  } else if (options.crop !== undefined || options.stride !== undefined) {
    throw new Error("inference: crop and stride go with mode 'slide'");
  }
  const flip = options.flip ?? false;
  if (typeof flip !== 'boolean') throw new Error(`inference: flip must be true or false, got ${JSON.stringify(flip)}`);
  const scales = options.scales ?? [1];
  if (!Array.isArray(scales) || scales.length === 0 || !scales.every((s) => typeof s === 'number' && Number.isFinite(s) && s > 0))
    throw new Error(`inference: scales must be a non-empty list of positive numbers, got ${JSON.stringify(scales)}`);
  return { mode, crop, stride, flip, scales: [...scales] };
}

/** Window starts along one side: every `stride`, plus one flush with the end (openseg's rule). */
export function windowStarts(length: number, crop: number, stride: number): number[] {
  if (length <= crop) return [0];
  const starts: number[] = [];
  for (let s = 0; s + crop <= length; s += stride) starts.push(s);
  if (starts.at(-1)! + crop < length) starts.push(length - crop);
  return starts;
}

/** Runs fn with the model in eval mode (no dropout, BN running statistics), restoring its mode after. */
export function inEvalMode<T>(model: SegmentationModel, fn: () => T): T {
  const was = model.training;
  model.train(false);
  try {
    return fn();
  } finally {
    model.train(was);
  }
}

/** Sliding-window logits of x [1, 3, H, W] as [1, K, H, W]: each pixel the mean of its windows. */
function slideLogits(model: SegmentationModel, x: Tensor, crop: [number, number], stride: [number, number]): Tensor {
  const [, , h, w] = x.shape;
  const ch = Math.min(crop[0], h);
  const cw = Math.min(crop[1], w);
  let sum: Float32Array | null = null;
  let k = 0;
  const count = new Uint32Array(h * w);
  for (const top of windowStarts(h, ch, stride[0]))
    for (const left of windowStarts(w, cw, stride[1])) {
      const win = tidy(() => model.call(narrow(narrow(x, 2, top, ch), 3, left, cw)).main.toFloat32Array());
      if (sum === null) {
        k = win.length / (ch * cw);
        sum = new Float32Array(k * h * w);
      }
      for (let c = 0; c < k; c++)
        for (let y = 0; y < ch; y++) {
          const dst = c * h * w + (top + y) * w + left;
          const src = (c * ch + y) * cw;
          for (let i = 0; i < cw; i++) sum[dst + i] += win[src + i];
        }
      for (let y = 0; y < ch; y++) for (let i = 0; i < cw; i++) count[(top + y) * w + left + i]++;
    }
  const out = sum!;
  for (let c = 0; c < k; c++) for (let p = 0; p < h * w; p++) out[c * h * w + p] /= count[p];
  return tensor(out, [1, k, h, w]);
}

/** Mirrors each row of a [K, H, W] array in place. */
function mirrorRows(a: Float32Array, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) a.subarray(r * width, (r + 1) * width).reverse();
}

/**
 * The main head's logits for one image, averaged over the scales (and the mirror when `flip`), at
 * the image's size. Runs without gradients, in eval mode, freeing every tensor it makes.
 */
export function predictLogits(model: SegmentationModel, sample: RawSample, options: InferenceOptions = {}): ImageLogits {
  const o = resolveInference(options);
  const { height: h, width: w } = sample;
  for (const s of o.scales) {
    const [sh, sw] = scaledSize(h, w, s);
    if (sh < OUTPUT_STRIDE || sw < OUTPUT_STRIDE)
      throw new Error(`inference: ${sample.name} (${h}x${w}) at scale ${s} is ${sh}x${sw}, smaller than the network's output stride ${OUTPUT_STRIDE}`);
  }
  let acc: Float32Array | null = null;
  let k = 0;
  let n = 0;
  const device = modelDevice(model);
  inEvalMode(model, () =>
    noGrad(() => {
      for (const flip of o.flip ? [false, true] : [false])
        for (const scale of o.scales) {
          const size = scaledSize(h, w, scale);
          const input = scale === 1 && !flip ? sample : resample(sample, size, { scale, top: 0, left: 0, flip, shift: 0 });
          const logits = tidy(() => {
            const x = toInputTensor([input]).to(device);
            const y = o.mode === 'slide' ? slideLogits(model, x, o.crop!, o.stride!) : model.call(x).main;
            const back = scale === 1 ? y : interpolate(y, { size: [h, w], alignCorners: false });
            return back.toFloat32Array();
          });
          if (acc === null) {
            k = logits.length / (h * w);
            acc = new Float32Array(logits.length);
          }
          if (logits.length !== acc.length) throw new Error(`inference: the model's logits changed size between passes (${logits.length} vs ${acc.length} values)`);
          if (flip) mirrorRows(logits, k * h, w);
          for (let i = 0; i < acc.length; i++) acc[i] += logits[i];
          n++;
        }
    }),
  );
  const out = acc!;
  if (n > 1) for (let i = 0; i < out.length; i++) out[i] /= n;
  return { logits: out, numClasses: k, height: h, width: w };
}

/** The arg-max class per pixel of [K, H, W] logits (the first class on ties), as [H, W] ids. */
export function argmaxClasses({ logits, numClasses: k, height: h, width: w }: ImageLogits): Uint8Array {
  if (k > 255) throw new Error(`argmaxClasses: ${k} classes do not fit 8-bit ids`);
  const n = h * w;
  const out = new Uint8Array(n);
  const best = logits.slice(0, n);
  for (let c = 1; c < k; c++) {
    const plane = logits.subarray(c * n, (c + 1) * n);
    for (let p = 0; p < n; p++)
      if (plane[p] > best[p]) {
        best[p] = plane[p];
        out[p] = c;
      }
  }
  return out;
}

/** predictLogits, then the arg-max: the class ids [H, W] of one image. */
export function predictMask(model: SegmentationModel, sample: RawSample, options: InferenceOptions = {}): Uint8Array {
  return argmaxClasses(predictLogits(model, sample, options));
}
