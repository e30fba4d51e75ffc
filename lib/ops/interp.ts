// F.interpolate (bilinear) over the native resize. PyTorch samples at 1/scaleFactor, not at
// in/out, when a scale factor is given (recomputeScaleFactor unset): the kernel's `scale` option.
import { needsGrad, record } from '../autograd/tape.js';
import { native } from '../native/index.js';
import { Tensor } from '../tensor.js';
import { checkOptionNames } from './options.js';

export interface InterpolateOptions {
  /** Output [h, w] (a number means square). Give this or scaleFactor. */
  size?: [number, number] | number;
  /** Output = floor(input * scaleFactor) per axis, as PyTorch. Give this or size. */
  scaleFactor?: number | [number, number];
  /** Only 'bilinear' (the default) is implemented. */
  mode?: 'bilinear';
  /** PyTorch's align_corners; default false. */
  alignCorners?: boolean;
  /** PyTorch's recompute_scale_factor: sample at in/out instead of 1/scaleFactor. Default false. */
  recomputeScaleFactor?: boolean;
}

const INTERP_OPTIONS = ['size', 'scaleFactor', 'mode', 'alignCorners', 'recomputeScaleFactor'];

function pair(v: number | [number, number]): [number, number] {
  return Array.isArray(v) ? [v[0], v[1]] : [v, v];
}

function checkOptions(x: Tensor, options: InterpolateOptions): void {
  const where = `interpolate: x ${JSON.stringify(x.shape)}`;
  checkOptionNames('interpolate', options, INTERP_OPTIONS);
  const mode = options.mode ?? 'bilinear';
  if (mode !== 'bilinear') throw new Error(`interpolate: mode '${String(mode)}' is not supported (only 'bilinear')`);
  if (x.rank !== 4) throw new Error(`${where}: bilinear needs a 4-D [B, C, H, W] input`);
  if ((options.size === undefined) === (options.scaleFactor === undefined))
    throw new Error(`${where}: give exactly one of size and scaleFactor`);
  const bad = (v: unknown, ok: (n: number) => boolean) =>
    !(typeof v === 'number' || (Array.isArray(v) && v.length === 2)) || !pair(v as number).every((n) => typeof n === 'number' && ok(n));
  if (options.size !== undefined && bad(options.size, (n) => Number.isInteger(n) && n >= 1))
    throw new Error(`${where}: size must be a positive integer or [h, w], got ${JSON.stringify(options.size)}`);
  if (options.scaleFactor !== undefined && bad(options.scaleFactor, (n) => Number.isFinite(n) && n > 0))
    throw new Error(`${where}: scaleFactor must be a positive number or [h, w], got ${JSON.stringify(options.scaleFactor)}`);
}

/**
 * torch.nn.functional.interpolate(x, size | scale_factor, mode='bilinear', align_corners) for
 * x [B, C, H, W], differentiable in x.
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  checkOptions(x, options ?? {});
  const { alignCorners = false, recomputeScaleFactor = false } = options;
  const [, , h, w] = x.shape;
  const scales = options.scaleFactor === undefined ? null : pair(options.scaleFactor);
  const size: [number, number] = scales ? [Math.floor(h * scales[0]), Math.floor(w * scales[1])] : pair(options.size!);
  if (size[0] < 1 || size[1] < 1)
    throw new Error(
      `interpolate: x ${JSON.stringify(x.shape)} scaled by ${JSON.stringify(scales)} gives an empty output ${JSON.stringify(size)}`,
    );
  const inputShape = x.shape;
  // A given scale factor is what PyTorch samples at, unless recomputed from the sizes.
  const scale = scales && !recomputeScaleFactor ? { scale: scales } : {};
  const y = new Tensor(native.interpolateBilinear(x.native, { size, alignCorners, ...scale }));
  if (needsGrad(x))
    record('interpolate', [x], y, (g) => [
      new Tensor(native.interpolateBilinearBackward(g.native, { inputShape, alignCorners, ...scale })),
    ]);
  return y;
}
