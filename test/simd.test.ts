// ANN_SEG_SIMD forces the level the kernels dispatch to: each level this CPU supports is run in a
// child process (the level is chosen once, when the addon loads), reported by info(), and gives the
// same results on the kernels that have SIMD paths; a bad value fails the load with a clear Error.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { native, packageRoot } from '../lib/native/index.js';

const root = packageRoot();

// Runs in the child: one call of each kernel family with SIMD paths, on seeded inputs.
const CHILD = `
const { native } = await import(${JSON.stringify(pathToFileURL(join(root, 'lib', 'native', 'index.ts')).href)});
const { Generator } = await import(${JSON.stringify(pathToFileURL(join(root, 'lib', 'random.ts')).href)});
const g = new Generator(7);
const rand = (shape, s = 1) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return native.fromArray(Float32Array.from({ length: n }, () => g.normal() * s), shape);
};
const out = {};
const put = (k, t) => { out[k] = Array.from(t.toArray()); };
const x = rand([2, 5, 19, 23]);
const dy = rand([2, 5, 19, 23]);
const bn = native.batchNorm(x, rand([5]), rand([5]), null, null, { training: true });
put('batchNorm.y', bn.y);
const bg = native.batchNormBackward(dy, x, rand([5]), bn.saveMean, bn.saveInvstd, { training: true });
put('batchNorm.dx', bg.dx); put('batchNorm.dweight', bg.dweight); put('batchNorm.dbias', bg.dbias);
const w = rand([4, 5, 3, 3], 0.3);
put('conv2d.y', native.conv2d(x, w, null, { padding: 2, dilation: 2 }));
const cg = native.conv2dBackward(rand([2, 4, 19, 23]), x, w, { padding: 2, dilation: 2 });
put('conv2d.dx', cg.dx); put('conv2d.dweight', cg.dweight);
put('interp.y', native.interpolateBilinear(x, { size: [41, 50] }));
put('interp.dx', native.interpolateBilinearBackward(rand([2, 5, 41, 50]), { inputShape: [2, 5, 19, 23] }));
const mp = native.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 });
put('maxPool2d.y', mp.y); put('maxPool2d.indices', mp.indices);
put('pyramidPool.avg', native.pyramidPool(x, { mode: 'avg' }).y);
const pm = native.pyramidPool(x, { mode: 'max' });
put('pyramidPool.max', pm.y); put('pyramidPool.indices', pm.indices);
const logits = rand([2, 7, 9, 11], 3);
put('softmax', native.softmax(logits, { axis: 1 }));
put('logSoftmax.last', native.logSoftmax(rand([6, 300], 3), { axis: 1 }));
put('argmax', native.argmax(logits, { axis: 1 }));
const target = native.fromArray(Int32Array.from({ length: 2 * 9 * 11 }, () => g.nextUint32() % 7), [2, 9, 11]);
put('crossEntropy', native.crossEntropy(logits, target).loss);
put('crossEntropy.grad', native.crossEntropyBackward(native.fromArray(new Float32Array([1]), []), logits, target));
const q = rand([2, 70, 8]), k = rand([2, 600, 8]), v = rand([2, 600, 6]);
const at = native.attention(q, k, v);
put('attention.out', at.out); put('attention.lse', at.lse);
const ag = native.attentionBackward(rand([2, 70, 6]), q, k, v, at.out, at.lse, {});
put('attention.dq', ag.dq); put('attention.dk', ag.dk); put('attention.dv', ag.dv);
process.stdout.write(JSON.stringify({ info: native.info(), out }));
`;

function child(simd: string | undefined) {
  const env = { ...process.env };
  if (simd === undefined) delete env.ANN_SEG_SIMD;
  else env.ANN_SEG_SIMD = simd;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: root,
    env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
}

interface ChildResult {
  info: { simd: string; simdLevels: string[] };
  out: Record<string, number[]>;
}

function run(simd: string | undefined): ChildResult {
  const r = child(simd);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ChildResult;
}

const levels = native.info().simdLevels;

describe('ANN_SEG_SIMD', () => {
  it('info() names the level in use and the levels this CPU supports, lowest first', () => {
    const info = native.info();
    expect(levels.length).toBeGreaterThan(0);
    expect(levels).toContain(info.simd);
    const known = ['sse2', 'avx2', 'avx512', 'generic'];
    for (const l of levels) expect(known).toContain(l);
    expect(levels.map((l) => known.indexOf(l))).toEqual([...levels.map((l) => known.indexOf(l))].sort((a, b) => a - b));
    // Unset, the kernels run at the best level the CPU has.
    if (process.env.ANN_SEG_SIMD === undefined) expect(info.simd).toBe(levels[levels.length - 1]);
  });

  it('each supported level is the one in use when forced, and gives the same results', { timeout: 120_000 }, () => {
    const best = run(undefined);
    expect(best.info.simd).toBe(levels[levels.length - 1]);
    const keys = Object.keys(best.out);
    expect(keys.length).toBe(24);
    for (const level of levels) {
      const r = run(level);
      expect(r.info.simd).toBe(level);
      expect(r.info.simdLevels).toEqual(levels);
      for (const key of keys) {
        const a = r.out[key];
        const b = best.out[key];
        expect(a.length, `${level} ${key}`).toBe(b.length);
        let scale = 1;
        for (const t of b) scale = Math.max(scale, Math.abs(t));
        // A level may fuse multiply-adds differently (a few float roundings); indices are exact.
        const tol = key.endsWith('indices') || key === 'argmax' ? 0 : 1e-5 * scale;
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        expect(worst, `${level} ${key}: largest difference from ${best.info.simd}`).toBeLessThanOrEqual(tol);
      }
    }
  });

  it.each([
    ['neon', /ANN_SEG_SIMD=neon: unknown SIMD level \(this CPU's levels: [a-z0-9, ]+; unset it for the best\)/],
    ['AVX2', /ANN_SEG_SIMD=AVX2: unknown SIMD level/],
  ])('an unknown level %s fails the load with an Error naming the variable, the value and the levels', (value, re) => {
    const r = child(value);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).toContain(levels.join(', '));
    expect(r.stderr).not.toMatch(/Segmentation|Aborted|core dumped/);
  });

  it('a level above the CPU fails the load with an Error naming it and the levels it has', () => {
    const missing = ['avx2', 'avx512'].find((l) => !levels.includes(l));
    if (missing === undefined) {
      // This CPU has every x86 level (each is forced in the test above): there is nothing to refuse.
      expect(levels).toEqual(['sse2', 'avx2', 'avx512']);
      return;
    }
    const r = child(missing);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`ANN_SEG_SIMD=${missing}: this CPU does not support ${missing} (its levels: ${levels.join(', ')})`);
  });
});
