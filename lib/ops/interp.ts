// F.interpolate (bilinear) over the native resize. PyTorch samples at 1/scaleFactor, not at
// in/out, when a scale factor is given (recomputeScaleFactor unset); the native kernel only knows
// sizes, so those cases run as two interpolation-matrix products: y = A_h x A_w^T.
import { needsGrad, record } from '../autograd/tape.js';
import { native, type NativeTensor } from '../native/index.js';
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

/** PyTorch's area_pixel_compute_scale, in float32 as its CPU kernel. */
function ratio(inSize: number, outSize: number, alignCorners: boolean, scale?: number): number {
  if (outSize <= 1) return 0;
  if (alignCorners) return Math.fround((inSize - 1) / (outSize - 1));
  return scale !== undefined && scale > 0 ? Math.fround(1 / scale) : Math.fround(inSize / outSize);
}

/** The [outSize, inSize] matrix of PyTorch's linear interpolation weights along one axis. */
function weights(inSize: number, outSize: number, alignCorners: boolean, scale?: number): Float32Array {
  const a = new Float32Array(outSize * inSize);
  const r = ratio(inSize, outSize, alignCorners, scale);
  for (let o = 0; o < outSize; o++) {
    if (outSize === inSize) {
      a[o * inSize + o] = 1;
      continue;
    }
    const f = Math.fround;
    const src = Math.max(0, alignCorners ? f(r * o) : f(f(r * f(o + 0.5)) - 0.5));
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const l1 = f(Math.min(Math.max(f(src - i0), 0), 1));
    const i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
    a[o * inSize + i0] += f(1 - l1);
    a[o * inSize + i1] += l1;
  }
  return a;
}

/** y [B,C,Ho,Wo] = A_h x A_w^T for x [B,C,H,W], A_h [Ho,H], A_w [Wo,W]. */
function resizeByMatrices(x: NativeTensor, ah: NativeTensor, aw: NativeTensor): NativeTensor {
  const [b, c, h, w] = x.shape;
  const [ho, wo] = [ah.shape[0], aw.shape[0]];
  const rows = x.reshape([b * c * h, w]);
  const t = native.matmul(rows, aw, { transB: true });
  const t3 = t.reshape([b * c, h, wo]);
  const y = native.matmul(ah, t3);
  const out = y.reshape([b, c, ho, wo]);
  for (const v of [rows, t, t3, y]) v.dispose();
  return out;
}

/** dx [B,C,H,W] = A_h^T dy A_w: the transpose of resizeByMatrices. */
function resizeByMatricesBackward(dy: NativeTensor, ah: NativeTensor, aw: NativeTensor): NativeTensor {
  const [b, c, ho, wo] = dy.shape;
  const [h, w] = [ah.shape[1], aw.shape[1]];
  const rows = dy.reshape([b * c * ho, wo]);
  const t = native.matmul(rows, aw);
  const t3 = t.reshape([b * c, ho, w]);
  const dx = native.matmul(ah, t3, { transA: true });
  const out = dx.reshape([b, c, h, w]);
  for (const v of [rows, t, t3, dx]) v.dispose();
  return out;
}

function checkOptions(x: Tensor, options: InterpolateOptions): void {
  const where = `interpolate: x ${JSON.stringify(x.shape)}`;
  checkOptionNames('interpolate', options, INTERP_OPTIONS);
  const mode = options.mode ?? 'bilinear';
  if (mode !== 'bilinear') throw new Error(`interpolate: mode '${String(mode)}' is not implemented (only 'bilinear')`);
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
  // The native kernel samples at in/out; only a given scale factor with align_corners off differs.
  const sampleScales = scales && !alignCorners && !recomputeScaleFactor ? scales : null;
  const differs = (i: number) => {
    const [inSize, outSize] = [inputShape[2 + i], size[i]];
    return outSize !== inSize && ratio(inSize, outSize, false, sampleScales![i]) !== ratio(inSize, outSize, false);
  };
  if (!sampleScales || !(differs(0) || differs(1))) {
    const y = new Tensor(native.interpolateBilinear(x.native, { size, alignCorners }));
    if (needsGrad(x)) {
      const backward = (g: Tensor) => new Tensor(native.interpolateBilinearBackward(g.native, { inputShape, alignCorners }));
      record('interpolate', [x], y, (g) => [backward(g)]);
    }
    return y;
  }
  const ahData = weights(h, size[0], false, sampleScales[0]);
  const awData = weights(w, size[1], false, sampleScales[1]);
  const withMatrices = <T>(fn: (ah: NativeTensor, aw: NativeTensor) => T): T => {
    const ah = native.fromArray(ahData, [size[0], h]);
    const aw = native.fromArray(awData, [size[1], w]);
    try {
      return fn(ah, aw);
    } finally {
      ah.dispose();
      aw.dispose();
    }
  };
  const y = new Tensor(withMatrices((ah, aw) => resizeByMatrices(x.native, ah, aw)));
  if (needsGrad(x))
    record('interpolate', [x], y, (g) => [new Tensor(withMatrices((ah, aw) => resizeByMatricesBackward(g.native, ah, aw)))]);
  return y;
}
