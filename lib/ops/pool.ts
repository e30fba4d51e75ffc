// F pooling ops over the native kernels: max_pool2d, the fused pyramid pooling that makes ANN's
// anchors, and the random-position sampling of the paper's Table 7 ablation.
import { needsGrad, record } from '../autograd/tape.js';
import { native } from '../native/index.js';
import type { MaxPool2dOptions, PyramidPoolOptions, SamplePositionsOptions } from '../native/kernels/pool.js';
import { resolveDevice } from '../device.js';
import { defaultGenerator } from '../random.js';
import { Tensor } from '../tensor.js';

export type { MaxPool2dOptions, PyramidPoolOptions, SamplePositionsOptions };

/**
 * Keeps `aux` (indices the backward reads) alive exactly as long as the graph needs it: saved
 * with the node, released from the tidy scope now, so backward or the end of the graph frees it.
 */
function recordWithAux(op: string, x: Tensor, y: Tensor, aux: Tensor, backward: (g: Tensor) => Tensor): void {
  record(op, [x], y, (g) => [backward(g)], [aux]);
  aux.releaseFromScope();
}

/** torch.nn.functional.max_pool2d on x [B,C,H,W] (stride defaults to kernelSize). */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  if (options === undefined || options.kernelSize === undefined)
    throw new Error(`maxPool2d: options.kernelSize is required (x ${JSON.stringify(x.shape)})`);
  const { y, indices } = native.maxPool2d(x.native, options);
  const out = new Tensor(y);
  const idx = new Tensor(indices);
  if (!needsGrad(x)) {
    idx.dispose();
    return out;
  }
  const inShape = x.shape;
  recordWithAux('maxPool2d', x, out, idx, (g) => new Tensor(native.maxPool2dBackward(g.native, idx.native, inShape)));
  return out;
}

/**
 * Fused pyramid pooling: adaptive avg (or max) pooling of x [B,C,H,W] at every size in `sizes`
 * (default [1, 3, 6, 8]), flattened and concatenated in one pass -> [B, C, S], S = sum of n^2.
 */
export function pyramidPool(x: Tensor, options: PyramidPoolOptions = {}): Tensor {
  const sizes = options.sizes ?? [1, 3, 6, 8];
  const mode = options.mode ?? 'avg';
  const r = native.pyramidPool(x.native, { ...options, sizes, mode });
  const y = new Tensor(r.y);
  const idx = r.indices ? new Tensor(r.indices) : null;
  if (!needsGrad(x)) {
    idx?.dispose();
    return y;
  }
  const inputShape = x.shape;
  if (idx)
    recordWithAux('pyramidPool', x, y, idx, (g) =>
      new Tensor(native.pyramidPoolBackward(g.native, { sizes, mode, inputShape, indices: idx.native })),
    );
  else record('pyramidPool', [x], y, (g) => [new Tensor(native.pyramidPoolBackward(g.native, { sizes, mode, inputShape }))]);
  return y;
}

/**
 * Random anchor positions for the sampling ablation: int32 [batch, S] of flat h*W+w (see the
 * native doc for 'pyramid' and 'plain'). Not differentiable. Without a seed one is drawn from the
 * default generator, so successive calls differ and manualSeed() makes a run reproducible.
 */
export function samplePositions(options: SamplePositionsOptions): Tensor {
  if (options === undefined || options === null || typeof options !== 'object')
    throw new Error('samplePositions: options { height, width, ... } are required');
  const seed = options.seed ?? defaultGenerator.nextUint32();
  return new Tensor(native.samplePositions({ ...options, seed, device: resolveDevice('samplePositions', options.device) }));
}

/** y [B,C,S] = x [B,C,H,W] read at positions int32 [B,S] (x.flatten(2).gather(2, ...)); differentiable in x. */
export function gatherPositions(x: Tensor, positions: Tensor): Tensor {
  const y = new Tensor(native.gatherPositions(x.native, positions.native));
  if (needsGrad(x)) {
    const inShape = x.shape;
    record('gatherPositions', [x], y, (g) => [new Tensor(native.gatherPositionsBackward(g.native, positions.native, inShape))], [positions]);
  }
  return y;
}
