// Differentiable elementwise arithmetic and reductions over the native kernels.
import { native } from '../native/index.js';
import { needsGrad, record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The gradient of a broadcast operand: summed back to its shape. */
function reduceTo(g: Tensor, shape: number[]): Tensor {
  return sameShape(g.shape, shape) ? g : new Tensor(native.sumTo(g.native, shape));
}

export function add(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.add(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record('add', [a, b], y, (g) => [reduceTo(g, sa), reduceTo(g, sb)]);
  }
  return y;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.sub(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record('sub', [a, b], y, (g) => {
      const ng = new Tensor(native.neg(g.native));
      const gb = reduceTo(ng, sb);
      if (gb !== ng) ng.dispose();
      return [reduceTo(g, sa), gb];
    });
  }
  return y;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.mul(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record(
      'mul',
      [a, b],
      y,
      (g) => {
        const part = (other: Tensor, shape: number[], wanted: boolean) => {
          if (!wanted) return null;
          const full = new Tensor(native.mul(g.native, other.native));
          const r = reduceTo(full, shape);
          if (r !== full) full.dispose();
          return r;
        };
        return [part(b, sa, a.requiresGrad), part(a, sb, b.requiresGrad)];
      },
      [a, b],
    );
  }
  return y;
}

/** alpha * x */
export function scale(x: Tensor, alpha: number): Tensor {
  const y = new Tensor(native.scale(x.native, alpha));
  if (needsGrad(x)) record('scale', [x], y, (g) => [new Tensor(native.scale(g.native, alpha))]);
  return y;
}

export function relu(x: Tensor): Tensor {
  const y = new Tensor(native.relu(x.native));
  if (needsGrad(x)) record('relu', [x], y, (g) => [new Tensor(native.reluBackward(g.native, y.native))], [y]);
  return y;
}

export interface ReduceOptions {
  axes?: number[];
  keepdim?: boolean;
}

function reduction(kind: 'sum' | 'mean', x: Tensor, opts: ReduceOptions): Tensor {
  const y = new Tensor(native[kind](x.native, opts));
  if (needsGrad(x)) {
    const inShape = x.shape;
    const rank = inShape.length;
    const axes = (opts.axes ?? inShape.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
    const kept = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
    const count = axes.reduce((n, a) => n * inShape[a], 1);
    record(kind, [x], y, (g) => {
      const g1 = g.native.reshape(kept);
      const src = kind === 'mean' ? native.scale(g1, 1 / count) : g1;
      const out = new Tensor(native.broadcastTo(src, inShape));
      if (src !== g1) src.dispose();
      g1.dispose();
      return [out];
    });
  }
  return y;
}

export function sum(x: Tensor, opts: ReduceOptions = {}): Tensor {
  return reduction('sum', x, opts);
}

export function mean(x: Tensor, opts: ReduceOptions = {}): Tensor {
  return reduction('mean', x, opts);
}
