// Memory scopes in the TensorFlow.js manner: tidy(fn) frees every tensor made inside fn except
// what fn returns; keep(t) exempts a tensor. Tensors saved for a backward pass outlive their
// scope and are freed when the backward pass has used them (see tape.ts).
import type { Tensor } from '../tensor.js';

interface Scope {
  tensors: Set<Tensor>;
}

const scopes: Scope[] = [];

/** @internal Called by every new Tensor. */
export function track(t: Tensor): void {
  scopes.at(-1)?.tensors.add(t);
}

/** Exempts `t` from the enclosing tidy scopes; it lives until disposed. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.tensors.delete(t);
  return t;
}

function collect(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, into, isTensor, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, into, isTensor, depth + 1);
  else for (const v of Object.values(value)) collect(v, into, isTensor, depth + 1);
}

let isTensorFn: ((v: unknown) => v is Tensor) | null = null;
/** @internal tensor.ts registers its class test here (avoids an import cycle). */
export function setTensorTest(fn: (v: unknown) => v is Tensor): void {
  isTensorFn = fn;
}

/**
 * Runs fn and frees every tensor created inside it, except the tensors in its result (found in
 * arrays, plain objects and Maps), which move to the enclosing scope. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('tidy: expected a function');
  const scope: Scope = { tensors: new Set() };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope.tensors) t.releaseFromScope();
    throw err;
  }
  scopes.pop();
  const kept = new Set<Tensor>();
  if (result instanceof Promise) {
    for (const t of scope.tensors) t.releaseFromScope();
    throw new Error('tidy: fn returned a Promise; tidy only scopes synchronous code (dispose tensors by hand across awaits)');
  }
  collect(result, kept, isTensorFn!);
  const parent = scopes.at(-1);
  for (const t of scope.tensors) {
    if (kept.has(t)) parent?.tensors.add(t);
    else t.releaseFromScope();
  }
  return result;
}
