// Differentiable elementwise arithmetic, reductions and softmax over the native kernels.
import { native, type NativeTensor } from '../native/index.js';
import { needsGrad, record } from '../autograd/tape.js';
import { full, Tensor } from '../tensor.js';

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The gradient of a broadcast operand: summed back to its shape. */
/**
 * Runs a binary op with a number operand promoted to a 0-d float32 tensor on the other operand's
 * device (freed with the op's graph).
 */
function withScalar(op: (a: Tensor, b: Tensor) => Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const other = typeof a === 'number' ? b : a;
  const device = typeof other === 'number' ? undefined : other.device;
  const promote = (v: Tensor | number) => (typeof v === 'number' ? full([], v, { device }) : v);
  const [ta, tb] = [promote(a), promote(b)];
  try {
    return op(ta, tb);
  } finally {
    for (const [t, v] of [[ta, a], [tb, b]] as const) if (t !== v) t.releaseFromScope();
  }
}

function reduceTo(g: Tensor, shape: number[]): Tensor {
  return sameShape(g.shape, shape) ? g : new Tensor(native.sumTo(g.native, shape));
}

/** reduceTo of a temporary made from g, disposing the temporary when a new tensor replaces it. */
function reduceTemp(t: NativeTensor, shape: number[]): Tensor {
  const full = new Tensor(t);
  const r = reduceTo(full, shape);
  if (r !== full) full.dispose();
  return r;
}

/** Elementwise with broadcasting; a plain number acts as a 0-d tensor, as in PyTorch. */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' || typeof b === 'number') return withScalar(addTensors, a, b);
  return addTensors(a, b);
}

function addTensors(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.add(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record('add', [a, b], y, (g) => [a.requiresGrad ? reduceTo(g, sa) : null, b.requiresGrad ? reduceTo(g, sb) : null]);
  }
  return y;
}

/** Elementwise with broadcasting; a plain number acts as a 0-d tensor, as in PyTorch. */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' || typeof b === 'number') return withScalar(subTensors, a, b);
  return subTensors(a, b);
}

function subTensors(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.sub(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record('sub', [a, b], y, (g) => [
      a.requiresGrad ? reduceTo(g, sa) : null,
      b.requiresGrad ? reduceTemp(native.neg(g.native), sb) : null,
    ]);
  }
  return y;
}

/** Elementwise with broadcasting; a plain number acts as a 0-d tensor, as in PyTorch. */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' || typeof b === 'number') return withScalar(mulTensors, a, b);
  return mulTensors(a, b);
}

function mulTensors(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.mul(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record(
      'mul',
      [a, b],
      y,
      (g) => [
        a.requiresGrad ? reduceTemp(native.mul(g.native, b.native), sa) : null,
        b.requiresGrad ? reduceTemp(native.mul(g.native, a.native), sb) : null,
      ],
      [a, b],
    );
  }
  return y;
}

/** Elementwise with broadcasting; a plain number acts as a 0-d tensor, as in PyTorch. */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' || typeof b === 'number') return withScalar(divTensors, a, b);
  return divTensors(a, b);
}

function divTensors(a: Tensor, b: Tensor): Tensor {
  const y = new Tensor(native.div(a.native, b.native));
  if (needsGrad(a, b)) {
    const [sa, sb] = [a.shape, b.shape];
    record(
      'div',
      [a, b],
      y,
      (g) => {
        const da = a.requiresGrad ? reduceTemp(native.div(g.native, b.native), sa) : null;
        if (!b.requiresGrad) return [da, null];
        // d(a/b)/db = -a/b^2 = -y/b: reuses the output instead of squaring b.
        const gy = native.mul(g.native, y.native);
        const q = native.div(gy, b.native);
        gy.dispose();
        const nq = native.neg(q);
        q.dispose();
        return [da, reduceTemp(nq, sb)];
      },
      // y is read only for b's gradient, but saving it is what keeps it alive past tidy.
      [b, y],
    );
  }
  return y;
}

export function neg(x: Tensor): Tensor {
  const y = new Tensor(native.neg(x.native));
  if (needsGrad(x)) record('neg', [x], y, (g) => [new Tensor(native.neg(g.native))]);
  return y;
}

/** alpha * x */
export function scale(x: Tensor, alpha: number): Tensor {
  const y = new Tensor(native.scale(x.native, alpha));
  if (needsGrad(x)) record('scale', [x], y, (g) => [new Tensor(native.scale(g.native, alpha))]);
  return y;
}

/** x + c for a number c (torch's x + 2.5). */
export function addScalar(x: Tensor, c: number): Tensor {
  const y = new Tensor(native.affine(x.native, 1, c));
  if (needsGrad(x)) record('addScalar', [x], y, (g) => [g]);
  return y;
}

export function relu(x: Tensor): Tensor {
  const y = new Tensor(native.relu(x.native));
  if (needsGrad(x)) record('relu', [x], y, (g) => [new Tensor(native.reluBackward(g.native, y.native))], [y]);
  return y;
}

export interface ReduceOptions {
  /** Dimensions to reduce (negative count from the end); all when absent or empty, as torch. */
  axes?: number[];
  /** torch's name for axes; a single dimension or several. */
  dim?: number | number[];
  keepdim?: boolean;
}

/** The axes to reduce, normalised; null for all. A 0-d tensor accepts dim 0 / -1, as torch. */
function reduceAxes(op: string, x: Tensor, opts: ReduceOptions): number[] | null {
  if (opts.axes !== undefined && opts.dim !== undefined)
    throw new Error(`${op}: give 'axes' or its alias 'dim', not both`);
  const given = opts.dim ?? opts.axes;
  if (given === undefined) return null;
  const list = typeof given === 'number' ? [given] : given;
  if (!Array.isArray(list) || !list.every((d) => Number.isInteger(d)))
    throw new Error(`${op}: dim must be an integer or an array of integers, got ${JSON.stringify(given)}`);
  const rank = x.rank;
  const span = Math.max(rank, 1);
  const axes = list.map((d) => {
    if (d < -span || d >= span)
      throw new Error(`${op}: dimension ${d} out of range for tensor ${JSON.stringify(x.shape)} (rank ${rank})`);
    return d < 0 ? d + span : d;
  });
  if (new Set(axes).size !== axes.length) throw new Error(`${op}: dimension repeated in ${JSON.stringify(list)}`);
  return rank === 0 || axes.length === 0 ? null : axes;
}

function reduction(kind: 'sum' | 'mean', x: Tensor, opts: ReduceOptions): Tensor {
  const axes = reduceAxes(kind, x, opts);
  const keepdim = opts.keepdim ?? false;
  const y = new Tensor(native[kind](x.native, axes ? { axes, keepdim } : { keepdim }));
  if (needsGrad(x)) {
    const inShape = x.shape;
    const all = axes ?? inShape.map((_, i) => i);
    const kept = inShape.map((d, i) => (all.includes(i) ? 1 : d));
    const count = all.reduce((n, a) => n * inShape[a], 1);
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

export interface SoftmaxOptions {
  /** The dimension normalised over; default -1 (torch requires it; -1 is tf.softmax's default). */
  dim?: number;
}

function softmaxLike(kind: 'softmax' | 'logSoftmax', x: Tensor, opts: SoftmaxOptions): Tensor {
  const dim = opts.dim ?? -1;
  // A 0-d tensor is a one-element axis (torch allows dim 0 / -1 on it).
  const scalar = x.rank === 0;
  if (scalar && dim !== 0 && dim !== -1)
    throw new Error(`${kind}: dimension ${dim} out of range for a 0-d tensor`);
  const axisOpts = { axis: scalar ? 0 : dim };
  const view = (t: NativeTensor) => (scalar ? t.reshape([1]) : t);
  const unview = (t: NativeTensor) => {
    if (!scalar) return t;
    const s = t.reshape([]);
    t.dispose();
    return s;
  };
  const xv = view(x.native);
  let yn: NativeTensor;
  try {
    yn = native[kind](xv, axisOpts);
  } finally {
    if (xv !== x.native) xv.dispose();
  }
  const y = new Tensor(unview(yn));
  if (needsGrad(x)) {
    record(
      kind,
      [x],
      y,
      (g) => {
        const [gv, yv] = [view(g.native), view(y.native)];
        const dx =
          kind === 'softmax' ? native.softmaxBackward(gv, yv, axisOpts) : native.logSoftmaxBackward(gv, yv, axisOpts);
        if (gv !== g.native) gv.dispose();
        if (yv !== y.native) yv.dispose();
        return [new Tensor(unview(dx))];
      },
      [y],
    );
  }
  return y;
}

/** exp(x) / sum(exp(x)) along dim. */
export function softmax(x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  return softmaxLike('softmax', x, opts);
}

/** log(softmax(x)) along dim, computed stably. */
export function logSoftmax(x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  return softmaxLike('logSoftmax', x, opts);
}
