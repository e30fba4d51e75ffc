// Every binding, fed arguments no caller should pass, must throw a JS Error that names the op,
// never crash, and never leave an output tensor behind (it validates before it allocates).
import { describe, expect, it } from 'vitest';

import { native, type NativeTensor } from '../lib/native/index.js';
import { Generator } from '../lib/random.js';
import { nativeEmpty, nativeFull } from '../lib/tensor.js';

// Random argument lists per binding in the fuzz test (at least 10,000 calls in all).
const TRIALS = 210;

// Functions whose every argument is optional.
const TAKES_NOTHING = new Set(['memory', 'info', 'numThreads', 'emptyCache', 'resetPeakBytes', 'synchronize', 'tf32']);

const bindings = Object.entries(native as unknown as Record<string, unknown>)
  .filter(([name, fn]) => typeof fn === 'function' && name !== 'NativeTensor' && !TAKES_NOTHING.has(name))
  .map(([name, fn]) => [name, fn as (...args: unknown[]) => unknown] as const);

function disposedTensor(): NativeTensor {
  const t = nativeFull([2, 3, 4, 5], 1);
  t.dispose();
  return t;
}

// Argument lists that are wrong for every binding.
function alwaysWrong(): unknown[][] {
  return [
    [],
    [undefined],
    [null],
    [{}],
    ['x'],
    [Symbol('s')],
    [disposedTensor()],
    [nativeEmpty([0, 3, 4, 4])],
    [disposedTensor(), disposedTensor(), disposedTensor()],
  ];
}

function expectOpError(name: string, args: unknown[]) {
  let thrown: unknown;
  try {
    native.memory();
    (native as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `${name} accepted bad arguments`).toBeInstanceOf(Error);
  expect((thrown as Error).message, `${name}: message must name the op`).toMatch(/^[A-Za-z][\w.]*: \S/);
}

describe('bad input to every binding', () => {
  it('finds the bindings', () => {
    expect(bindings.length).toBeGreaterThan(10);
  });

  it('rejects missing, wrong-type, disposed and empty arguments with a clear error', () => {
    const before = native.memory().numTensors;
    for (const [name] of bindings) for (const args of alwaysWrong()) expectOpError(name, args);
    // Only the empty tensors made above may remain alive.
    expect(native.memory().numTensors - before).toBeLessThanOrEqual(bindings.length);
  });

  it('survives random argument lists without crashing', () => {
    const gen = new Generator(12345);
    const rand = () => gen.uniform();
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const numbers = [-1, 0, 1, 2, 3, 7, 0.5, Number.NaN, Infinity, -Infinity, 1e12];
    const made: NativeTensor[] = [];
    const tensorOf = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => {
      const t = nativeFull(shape, pick(dtype === 'int32' ? [0, 1, -1, 300] : [0, 1, -1, 300, Number.NaN]), dtype);
      made.push(t);
      return t;
    };
    const shapes = [[1], [3], [2, 3], [2, 3, 4], [1, 3, 5, 5], [2, 4, 7, 6], [2, 4, 1, 1], [1, 1, 2, 2, 2]];
    const value = (): unknown => {
      switch (Math.floor(rand() * 8)) {
        case 0:
          return pick(numbers);
        case 1:
          return tensorOf(pick(shapes));
        case 2:
          return tensorOf(pick(shapes), 'int32');
        case 3:
          return Array.from({ length: Math.floor(rand() * 4) }, () => pick(numbers));
        case 4:
          return [tensorOf(pick(shapes)), tensorOf(pick(shapes))];
        case 5: {
          const o: Record<string, unknown> = {};
          for (const k of ['size', 'sizes', 'stride', 'padding', 'dilation', 'kernelSize', 'axis', 'axes', 'p', 'scale', 'inputShape', 'mode', 'weight', 'ignoreIndex', 'seed'])
            if (rand() < 0.3) o[k] = rand() < 0.5 ? pick(numbers) : [pick(numbers), pick(numbers)];
          return o;
        }
        case 6:
          return pick([null, undefined, 'avg', 'max', true]);
        default:
          return disposedTensor();
      }
    };
    let calls = 0;
    for (const [name] of bindings) {
      // setNumThreads would resize the pool mid-test; creation functions are tested in core.test.ts
      // and would fill multi-gigabyte tensors for the large sizes drawn here.
      if (['setNumThreads', 'empty', 'full', 'fromArray'].includes(name)) continue;
      for (let trial = 0; trial < TRIALS; trial++) {
        calls++;
        const args = Array.from({ length: 1 + Math.floor(rand() * 5) }, value);
        try {
          const out = (native as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
          for (const t of collectTensors(out)) t.dispose();
        } catch (err) {
          expect(err, `${name} threw a non-Error`).toBeInstanceOf(Error);
          expect((err as Error).message, `${name}: message must name the op`).toMatch(/^[A-Za-z][\w.]*: \S/);
        }
      }
    }
    for (const t of made) t.dispose();
    expect(calls).toBeGreaterThanOrEqual(10_000);
  });
});

function collectTensors(out: unknown): NativeTensor[] {
  if (out instanceof (native.NativeTensor as unknown as new () => NativeTensor)) return [out as NativeTensor];
  if (Array.isArray(out)) return out.flatMap(collectTensors);
  if (out && typeof out === 'object') return Object.values(out).flatMap(collectTensors);
  return [];
}
