// torch.optim.SGD over the native in-place update. Momentum buffers are native tensors owned by
// the optimizer (outside any tidy scope), on their parameter's device; stateDict/loadStateDict make
// a resumed run exact.
import { keep } from '../autograd/scope.js';
import { native } from '../native/index.js';
import { empty, Tensor } from '../tensor.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export interface SGDState {
  /** Options in effect, lr included (schedules change it). */
  options: Required<SGDOptions>;
  /** Number of step() calls so far. */
  steps: number;
  /** One momentum buffer per parameter, in parameter order; null before its first step. */
  momentumBuffers: (Tensor | null)[];
}

function checkOptions(o: Required<SGDOptions>): void {
  const bad = (what: string) => {
    throw new Error(`SGD: ${what}`);
  };
  if (!Number.isFinite(o.lr) || o.lr < 0) bad(`lr must be a finite number >= 0, got ${o.lr}`);
  if (!Number.isFinite(o.momentum) || o.momentum < 0) bad(`momentum must be >= 0, got ${o.momentum}`);
  if (!Number.isFinite(o.dampening)) bad(`dampening must be finite, got ${o.dampening}`);
  if (!Number.isFinite(o.weightDecay) || o.weightDecay < 0) bad(`weightDecay must be >= 0, got ${o.weightDecay}`);
  if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) bad('nesterov momentum requires momentum > 0 and dampening 0');
}

export class SGD {
  readonly params: Tensor[];
  options: Required<SGDOptions>;
  #buffers: (Tensor | null)[];
  #steps = 0;

  /** `new SGD(params, { lr, ... })` as PyTorch, or `new SGD({ params, lr, ... })`. */
  constructor(params: Iterable<Tensor>, options: SGDOptions);
  constructor(options: SGDOptions & { params: Iterable<Tensor> });
  constructor(
    first: Iterable<Tensor> | (SGDOptions & { params: Iterable<Tensor> }),
    second?: SGDOptions,
  ) {
    const single = second === undefined && first !== null && typeof first === 'object' && 'params' in first;
    const params = single ? first.params : (first as Iterable<Tensor>);
    let options: SGDOptions;
    if (single) {
      const { params: _params, ...rest } = first as SGDOptions & { params: Iterable<Tensor> };
      options = rest;
    } else {
      if (second === undefined) throw new Error('SGD: expected (params, { lr, ... }) or ({ params, lr, ... })');
      options = second;
    }
    if (params === null || typeof (params as Iterable<Tensor>)[Symbol.iterator] !== 'function')
      throw new Error('SGD: params must be an iterable of tensors (e.g. model.parameters())');
    this.params = [...params];
    if (this.params.length === 0) throw new Error('SGD: got an empty parameter list');
    for (const p of this.params)
      if (!(p instanceof Tensor) || p.dtype !== 'float32' || !p.requiresGrad)
        throw new Error('SGD: every parameter must be a float32 Tensor that requires grad');
    if (new Set(this.params).size !== this.params.length) throw new Error('SGD: a parameter appears more than once');
    this.options = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options };
    checkOptions(this.options);
    this.#buffers = this.params.map(() => null);
  }

  get lr(): number {
    return this.options.lr;
  }
  set lr(value: number) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`SGD: lr must be a finite number >= 0, got ${value}`);
    this.options.lr = value;
  }

  /** Updates every parameter that has a gradient (parameters without one are skipped, as PyTorch). */
  step(): void {
    const o = this.options;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      let buf = this.#buffers[i];
      const firstStep = o.momentum !== 0 && buf === null;
      if (firstStep) buf = this.#buffers[i] = keep(empty(p.shape, { device: p.device }));
      native.sgdStep(p.native, p.grad.native, o.momentum !== 0 ? buf!.native : null, {
        lr: o.lr,
        momentum: o.momentum,
        dampening: o.dampening,
        weightDecay: o.weightDecay,
        nesterov: o.nesterov,
        firstStep,
      });
    });
    this.#steps++;
  }

  /** Frees every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** The state, sharing the buffers (copy or write them out before the next step). */
  stateDict(): SGDState {
    return { options: { ...this.options }, steps: this.#steps, momentumBuffers: [...this.#buffers] };
  }

  /** Restores options, step count and copies of the momentum buffers (onto their parameters' devices). */
  loadStateDict(state: SGDState): void {
    if (state.momentumBuffers.length !== this.params.length)
      throw new Error(`SGD.loadStateDict: state has ${state.momentumBuffers.length} buffers for ${this.params.length} parameters`);
    state.momentumBuffers.forEach((b, i) => {
      if (b && JSON.stringify(b.shape) !== JSON.stringify(this.params[i].shape))
        throw new Error(`SGD.loadStateDict: buffer ${i} has shape ${JSON.stringify(b.shape)}, parameter ${JSON.stringify(this.params[i].shape)}`);
    });
    const options = { ...state.options };
    checkOptions(options);
    this.options = options;
    this.#steps = state.steps;
    this.#buffers.forEach((b) => b?.dispose());
    this.#buffers = state.momentumBuffers.map((b, i) => {
      if (!b) return null;
      const device = this.params[i].device;
      return keep(new Tensor(b.device === device ? b.native.clone() : b.native.to(device)));
    });
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    this.#buffers.forEach((b) => b?.dispose());
    this.#buffers = this.params.map(() => null);
  }
}
