import { describe, expect, it } from 'vitest';

import { native } from '../lib/native/index.js';

describe('native tensors', () => {
  it('round-trips float32 and int32 data by copy', () => {
    const data = new Float32Array([1.5, -2, 3, Number.NaN, Infinity, 6]);
    const t = native.fromArray(data, [2, 3]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    data[0] = 99;
    const back = t.toArray();
    expect(Array.from(back)).toEqual([1.5, -2, 3, Number.NaN, Infinity, 6]);
    back[1] = 7;
    expect(t.toArray()[1]).toBe(-2);
    const i = native.fromArray(new Int32Array([1, -2, 2147483647]), [3]);
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.toArray())).toEqual([1, -2, 2147483647]);
    t.dispose();
    i.dispose();
  });

  it('counts live tensors and bytes on the native side', () => {
    const before = native.memory();
    const a = native.full([1000], 2);
    const b = a.reshape([10, 100]);
    let m = native.memory();
    expect(m.numTensors - before.numTensors).toBe(2);
    expect(m.numStorages - before.numStorages).toBe(1);
    expect(m.numBytes - before.numBytes).toBe(4000);
    a.dispose();
    expect(Array.from(b.toArray().slice(0, 3))).toEqual([2, 2, 2]);
    b.dispose();
    m = native.memory();
    expect(m.numTensors).toBe(before.numTensors);
    expect(m.numBytes).toBe(before.numBytes);
  });

  it('reuses freed native memory instead of returning it to the OS', () => {
    const a = native.empty([1 << 20]);
    a.dispose();
    const cached = native.memory().cachedBytes;
    expect(cached).toBeGreaterThanOrEqual(4 << 20);
    const b = native.empty([1 << 20]);
    expect(native.memory().cachedBytes).toBe(cached - (4 << 20));
    b.dispose();
    native.emptyCache();
    expect(native.memory().cachedBytes).toBe(0);
  });

  it('rejects bad shapes, data and disposed tensors with clear errors', () => {
    expect(() => native.fromArray(new Float32Array(3), [2, 2])).toThrow(/fromArray: data has 3 elements but shape \[2,2\]/);
    expect(() => native.fromArray(new Float64Array(2) as unknown as Float32Array, [2])).toThrow(/Float32Array or Int32Array/);
    expect(() => native.empty([2, -1])).toThrow(/negative dimension/);
    expect(() => native.empty([2, 1.5])).toThrow(/integer/);
    expect(() => native.empty([1e6, 1e6])).toThrow(/too many elements/);
    expect(() => native.full([2], 1, 'float16' as 'float32')).toThrow(/unknown dtype 'float16'/);
    const t = native.full([2, 3], 1);
    expect(() => t.reshape([4, 2])).toThrow(/cannot reshape \[2,3\]/);
    expect(() => t.reshape([-1, -1])).toThrow(/only one dimension/);
    t.dispose();
    expect(() => t.toArray()).toThrow(/disposed/);
    expect(() => t.reshape([6])).toThrow(/disposed/);
    expect(() => native.setNumThreads(0)).toThrow(/between 1 and 256/);
    const Ctor = native.NativeTensor as unknown as new () => unknown;
    expect(() => new Ctor()).toThrow(/use the ann-seg tensor functions/);
  });

  it('leaves nothing behind for Node to finalize once a tensor is disposed (a synchronous loop runs in flat RSS)', () => {
    const x = native.full([4, 16], 1);
    const loop = (n: number) => {
      for (let i = 0; i < n; i++) {
        const y = x.reshape([64]);
        const z = y.clone();
        y.dispose();
        z.dispose();
      }
    };
    loop(120_000); // warm-up: V8's heaps grow to their working size
    global.gc!();
    const before = process.memoryUsage().rss;
    loop(100_000);
    global.gc!();
    // 200k wrappers pending finalization would hold ~50 MB; disposed ones must hold nothing.
    expect(process.memoryUsage().rss - before).toBeLessThan(4 * 1024 * 1024);
    x.dispose();
  });

  it('reports its build', () => {
    const info = native.info();
    expect(info.blas).toMatch(/OpenBLAS/);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    // CUDA: either the device in use, or why there is none (a build without CUDA, no driver, ...).
    expect(typeof info.cuda).toBe('string');
    if (info.cuda.startsWith('unavailable')) expect(info.cuda).toMatch(/^unavailable \(\S[^)]*\)$/);
    else expect(info.cuda).toMatch(/\S/);
  });
});
