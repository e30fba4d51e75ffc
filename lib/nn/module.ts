// nn.Module and nn.Parameter in PyTorch's manner. Parameters, buffers and submodules are
// registered explicitly under their PyTorch names (so state-dict keys match PyTorch's exactly, also
// where a TypeScript property would be camelCase: BN's running_mean, APNB's f_key). Order of
// registration is the order of parameters() and of the state dict, as in PyTorch.
import { keep, tidy } from '../autograd/scope.js';
import { noGrad } from '../autograd/tape.js';
import { parseDevice, type Device } from '../device.js';
import { native, type NativeTensor } from '../native/index.js';
import { nativeFromArray, nativeFull, Tensor } from '../tensor.js';

/**
 * A tensor that a Module owns as a trainable weight: requires grad by default and lives outside
 * every tidy() scope (dispose it through module.dispose()). Made from a Tensor it shares that
 * tensor's storage, as torch.nn.Parameter does.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor | NativeTensor, requiresGrad = true) {
    const handle = data instanceof Tensor ? data.native.reshape(data.shape) : data;
    if (requiresGrad && handle.dtype !== 'float32') {
      handle.dispose();
      throw new Error(`Parameter: only float32 tensors can require grad, got ${handle.dtype} ${JSON.stringify(handle.shape)}`);
    }
    super(handle, requiresGrad);
    keep(this);
  }
}

// Children may have any forward signature; `any` is what lets a Module<[Tensor, Tensor]> sit beside a
// Module<[Tensor]> in one tree.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = Module<any[], unknown>;

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Every key of the module must be in the dict and every key of the dict in the module (default true). */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

interface Slot {
  owner: Module<unknown[], unknown>;
  kind: 'parameter' | 'buffer';
  name: string;
  tensor: Tensor;
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const fmt = (s: number[]) => `[${s.join(', ')}]`;

function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('.'))
    throw new Error(`register${kind}: name must be a non-empty string without '.', got ${JSON.stringify(name)}`);
}

/**
 * The base of every layer and model. Subclasses register their parts in the constructor and define
 * forward(); call a module with `m.call(x)` (or `m.forward(x)`), PyTorch's `m(x)`.
 *
 * ```ts
 * class Block extends nn.Module {
 *   readonly conv = this.registerModule('conv', new nn.Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3 }));
 *   readonly bn = this.registerModule('bn', new nn.BatchNorm2d(8));
 *   forward(x: Tensor) { return F.relu(this.bn.call(this.conv.call(x))); }
 * }
 * ```
 */
export abstract class Module<Args extends unknown[] = [Tensor], Out = Tensor> {
  /** Training mode (batch statistics, dropout); set with train() and eval(). */
  training = true;
  #parameters = new Map<string, Parameter | null>();
  #buffers = new Map<string, Tensor | null>();
  #nonPersistent = new Set<string>();
  #modules = new Map<string, AnyModule | null>();

  abstract forward(...args: Args): Out;

  /**
   * Runs forward (PyTorch's `module(x)`) in its own tidy scope, so the module's intermediates are
   * freed when it returns (those saved for backward live on in the graph), as PyTorch frees them
   * when their last reference goes: peak memory then follows the widest layer, not the network.
   */
  call(...args: Args): Out {
    return tidy(() => this.forward(...args));
  }

  /** The class name, as PyTorch prints it in errors. */
  get typeName(): string {
    return this.constructor.name;
  }

  #checkFree(name: string, kind: 'parameter' | 'buffer' | 'module'): void {
    const taken =
      (kind !== 'parameter' && this.#parameters.has(name) && 'a parameter') ||
      (kind !== 'buffer' && this.#buffers.has(name) && 'a buffer') ||
      (kind !== 'module' && this.#modules.has(name) && 'a submodule');
    if (taken) throw new Error(`${this.typeName}: cannot register ${kind} '${name}': it is already ${taken}`);
  }

  /** Adds (or replaces) a parameter; null registers an absent one (as a conv without bias). Returns it. */
  registerParameter<P extends Parameter | null>(name: string, param: P): P {
    checkName('Parameter', name);
    this.#checkFree(name, 'parameter');
    if (param !== null && !(param instanceof Parameter))
      throw new Error(`${this.typeName}.registerParameter('${name}'): expected an nn.Parameter (wrap the tensor: new nn.Parameter(t))`);
    this.#parameters.set(name, param);
    return param;
  }

  /**
   * Adds (or replaces) a buffer: state that is not trained (BN's running statistics). It leaves
   * tidy() scopes like a parameter. Non-persistent buffers stay out of the state dict.
   */
  registerBuffer<T extends Tensor | null>(name: string, tensor: T, { persistent = true } = {}): T {
    checkName('Buffer', name);
    this.#checkFree(name, 'buffer');
    if (tensor !== null && !(tensor instanceof Tensor))
      throw new Error(`${this.typeName}.registerBuffer('${name}'): expected a Tensor or null`);
    if (tensor) keep(tensor);
    this.#buffers.set(name, tensor);
    if (persistent) this.#nonPersistent.delete(name);
    else this.#nonPersistent.add(name);
    return tensor;
  }

  /**
   * Adds (or replaces) a submodule under a name. The same module may be registered under two names
   * (shared weights): parameters() lists its tensors once, the state dict under both names.
   */
  registerModule<M extends AnyModule | null>(name: string, module: M): M {
    checkName('Module', name);
    this.#checkFree(name, 'module');
    if (module !== null && !(module instanceof Module))
      throw new Error(`${this.typeName}.registerModule('${name}'): expected an nn.Module or null`);
    this.#modules.set(name, module);
    return module;
  }

  getParameter(name: string): Parameter | null {
    const p = this.#parameters.get(name);
    if (p === undefined) throw new Error(`${this.typeName} has no parameter '${name}'`);
    return p;
  }

  getBuffer(name: string): Tensor | null {
    const b = this.#buffers.get(name);
    if (b === undefined) throw new Error(`${this.typeName} has no buffer '${name}'`);
    return b;
  }

  /**
   * @internal Puts a new tensor in a buffer's place, disposing the old one. Only for int32 buffers,
   * which the native layer cannot update in place (num_batches_tracked).
   */
  protected replaceBuffer(name: string, tensor: Tensor): void {
    const old = this.getBuffer(name);
    this.#buffers.set(name, keep(tensor));
    if (old && old !== tensor) old.dispose();
  }

  /** The submodule at a dotted path ('layer1.0.conv1'), as torch's get_submodule. */
  getSubmodule(target: string): AnyModule {
    if (target === '') return this;
    return target.split('.').reduce<AnyModule>((m, part) => {
      const next = m.#modules.get(part);
      if (!next) throw new Error(`${this.typeName}.getSubmodule: no submodule '${target}' ('${part}' not found in ${m.typeName})`);
      return next;
    }, this);
  }

  /** Direct children with their names; a child registered twice is listed once (first name). */
  namedChildren(): [string, AnyModule][] {
    const seen = new Set<AnyModule>();
    const out: [string, AnyModule][] = [];
    for (const [name, m] of this.#modules)
      if (m && !seen.has(m)) {
        seen.add(m);
        out.push([name, m]);
      }
    return out;
  }

  children(): AnyModule[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module ('') and every descendant, each once, depth first in registration order. */
  namedModules(prefix = ''): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const walk = (m: AnyModule, path: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([path, m]);
      for (const [name, child] of m.#modules) if (child) walk(child, path ? `${path}.${name}` : name);
    };
    walk(this, prefix);
    return out;
  }

  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  #namedTensors<T extends Tensor>(pick: (m: AnyModule) => Iterable<[string, T | null]>, recurse: boolean): [string, T][] {
    const out: [string, T][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, AnyModule][] = recurse ? this.namedModules() : [['', this]];
    for (const [path, m] of mods)
      for (const [name, t] of pick(m))
        if (t && !seen.has(t)) {
          seen.add(t);
          out.push([path ? `${path}.${name}` : name, t]);
        }
    return out;
  }

  /** Parameters with their dotted names, each tensor once (a shared module's under its first name). */
  namedParameters({ recurse = true } = {}): [string, Parameter][] {
    return this.#namedTensors((m) => m.#parameters, recurse);
  }

  /** The trainable tensors, each once: what an optimizer takes. */
  parameters({ recurse = true } = {}): Parameter[] {
    return this.namedParameters({ recurse }).map(([, p]) => p);
  }

  namedBuffers({ recurse = true } = {}): [string, Tensor][] {
    return this.#namedTensors((m) => m.#buffers, recurse);
  }

  buffers({ recurse = true } = {}): Tensor[] {
    return this.namedBuffers({ recurse }).map(([, b]) => b);
  }

  /** Calls fn on every descendant and then on this module (torch's Module.apply); for initialisation. */
  apply(fn: (m: AnyModule) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Moves every parameter, gradient and buffer of this module and its descendants to `device`, in
   * place: the Parameter and buffer objects stay the same (so an optimizer made before keeps them),
   * as PyTorch's module.to. Returns this module.
   */
  to(device: Device): this {
    const d = parseDevice(`${this.typeName}.to`, device);
    for (const p of this.parameters()) {
      p.moveStorageTo(d);
      p.grad?.moveStorageTo(d);
    }
    for (const b of this.buffers()) b.moveStorageTo(d);
    return this;
  }

  /** Sets training mode here and in every descendant. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Frees the gradients of every parameter (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Every tensor of the state dict with its key, in PyTorch's order, without removing duplicates. */
  #slots(prefix: string, out: Map<string, Slot>): Map<string, Slot> {
    for (const [name, p] of this.#parameters)
      if (p) out.set(prefix + name, { owner: this, kind: 'parameter', name, tensor: p });
    for (const [name, b] of this.#buffers)
      if (b && !this.#nonPersistent.has(name)) out.set(prefix + name, { owner: this, kind: 'buffer', name, tensor: b });
    for (const [name, m] of this.#modules) if (m) m.#slots(`${prefix}${name}.`, out);
    return out;
  }

  /**
   * The module's parameters and persistent buffers under PyTorch's state_dict keys ('0.weight',
   * 'bn.running_mean', both names of a shared submodule). The values ARE the module's own tensors,
   * not copies: read or save them, do not dispose them.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [key, slot] of this.#slots('', new Map())) out[key] = slot.tensor;
    return out;
  }

  /**
   * Local state-dict names this module can do without when loading; they are reset to `value`
   * (PyTorch's BatchNorm accepts checkpoints older than num_batches_tracked this way).
   */
  protected optionalStateKeys(): Record<string, number> {
    return {};
  }

  /**
   * Copies values into the module's existing tensors (so optimizers keep their references).
   * Float values are converted to the target's dtype where they differ (I64 -> int32 buffers).
   * Shape mismatches are errors in both modes (as PyTorch); with strict (the default), missing and
   * unexpected keys are too, and every problem is listed in one error. On error nothing is copied.
   */
  loadStateDict(dict: StateDict, { strict = true }: LoadStateDictOptions = {}): LoadStateDictResult {
    if (typeof dict !== 'object' || dict === null) throw new Error(`loadStateDict: expected a record of tensors, got ${dict}`);
    const slots = this.#slots('', new Map());
    const missingKeys: string[] = [];
    const defaults: [Slot, number][] = [];
    const problems: string[] = [];
    for (const [key, slot] of slots) {
      const v = dict[key];
      if (v === undefined) {
        const value = slot.owner.optionalStateKeys()[slot.name];
        if (value === undefined) missingKeys.push(key);
        else defaults.push([slot, value]);
      } else if (!(v instanceof Tensor) || v.isDisposed) {
        problems.push(`value for ${key} is ${v instanceof Tensor ? 'a disposed tensor' : 'not a Tensor'}`);
      } else if (!sameShape(v.shape, slot.tensor.shape)) {
        problems.push(
          `size mismatch for ${key}: copying a param with shape ${fmt(v.shape)} from checkpoint, ` +
            `the shape in current model is ${fmt(slot.tensor.shape)}`,
        );
      } else if (slot.tensor.dtype === 'int32' && v.dtype === 'float32' && !v.toFloat32Array().every(Number.isInteger)) {
        problems.push(`value for ${key} holds non-integers, but ${key} is an int32 buffer`);
      }
    }
    const unexpectedKeys = Object.keys(dict).filter((k) => !slots.has(k));
    const lines: string[] = [];
    if (strict && unexpectedKeys.length) lines.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (strict && missingKeys.length) lines.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    lines.push(...problems);
    if (lines.length)
      throw new Error(`loadStateDict: Error(s) in loading state_dict for ${this.typeName}:\n\t${lines.join('\n\t')}`);

    noGrad(() => {
      for (const [key, slot] of slots) {
        const v = dict[key];
        if (v !== undefined) Module.#assign(key, slot, v.native);
      }
      for (const [slot, value] of defaults) {
        const dst = Module.#current(slot);
        const src = nativeFull(dst.shape, value, dst.dtype, dst.device);
        try {
          Module.#assign(slot.name, slot, src);
        } finally {
          src.dispose();
        }
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** The slot's tensor now: an int buffer may have been replaced by an earlier key (a shared module). */
  static #current(slot: Slot): Tensor {
    return slot.kind === 'buffer' ? slot.owner.#buffers.get(slot.name)! : slot.tensor;
  }

  /** Copies src into the slot's tensor, across devices too (as PyTorch's load_state_dict). */
  static #assign(key: string, slot: Slot, src: NativeTensor): void {
    const dst = Module.#current(slot);
    if (src === dst.native) return;
    if (src.device !== dst.device) {
      const moved = src.to(dst.device);
      try {
        Module.#assign(key, slot, moved);
      } finally {
        moved.dispose();
      }
      return;
    }
    if (dst.dtype === 'float32') {
      const s = src.dtype === 'float32' ? src : converted(src, 'float32', key);
      try {
        native.copyInto(dst.native, s);
      } finally {
        if (s !== src) s.dispose();
      }
      return;
    }
    // The native layer copies only float32 in place; an int buffer gets a fresh tensor instead.
    const fresh = src.dtype === dst.dtype ? src.clone() : converted(src, dst.dtype, key);
    slot.owner.replaceBuffer(slot.name, new Tensor(fresh));
  }

  /** Frees every parameter, gradient and buffer of this module and its descendants. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
      p.dispose();
    }
    for (const b of this.buffers()) b.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A copy of src's values in the given dtype, on src's device (a float value for an int slot must be integral). */
function converted(src: NativeTensor, dtype: 'float32' | 'int32', key: string): NativeTensor {
  const values = src.toArray();
  if (dtype === 'float32') return nativeFromArray(Float32Array.from(values), src.shape, src.device);
  if (!values.every((v) => Number.isInteger(v)))
    throw new Error(`loadStateDict: ${key} is an int32 buffer but the value holds non-integers`);
  return nativeFromArray(Int32Array.from(values), src.shape, src.device);
}
