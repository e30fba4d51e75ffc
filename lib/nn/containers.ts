// torch.nn.Sequential and torch.nn.ModuleList: children named "0", "1", ... as in PyTorch.
import type { Tensor } from '../tensor.js';
import { Module, type AnyModule } from './module.js';

/** Chains modules that each take and return one tensor. */
export class Sequential extends Module {
  #items: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  append(module: Module): this {
    this.#items.push(this.registerModule(String(this.#items.length), module));
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const m = this.#items.at(i);
    if (!m) throw new Error(`Sequential: index ${i} out of range for ${this.#items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.#items[Symbol.iterator]();
  }

  forward(input: Tensor): Tensor {
    let x = input;
    for (const m of this.#items) {
      const y = m.call(x);
      // An intermediate goes as soon as the next layer has run; the graph keeps what backward reads.
      if (x !== input && y !== x) x.releaseFromScope();
      x = y;
    }
    return x;
  }
}

/** Holds submodules in a list (their forward is the owner's business). */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<never[], never> {
  #items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(module: M): this {
    this.#items.push(this.registerModule(String(this.#items.length), module));
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  at(i: number): M {
    const m = this.#items.at(i);
    if (!m) throw new Error(`ModuleList: index ${i} out of range for ${this.#items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }

  forward(): never {
    throw new Error('ModuleList has no forward(): iterate over it and call its modules');
  }
}
