// The trainer resumes bit-identically: N iterations straight give the same losses (and weights) as
// N/2 then --resume to N, and as a run stopped by Ctrl-C (SIGINT to a child process) then resumed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { io, train as T } from '../lib/index.js';
import { tinyConfig, tinyLoader, trainLosses } from './helpers/tiny-run.js';

const root = mkdtempSync(join(tmpdir(), 'ann-trainer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function trainTo(out: string, iters: number, opts: { resume?: boolean; fullIters?: number; evalEvery?: number } = {}) {
  // A run cut short at `iters` of a `fullIters` schedule: the poly rate must follow the full run.
  const trainer = new T.Trainer({
    config: tinyConfig(opts.fullIters ?? iters, { checkpointEvery: 2, evalEvery: opts.evalEvery ?? 0 }),
    out,
    makeLoader: tinyLoader,
    resume: opts.resume,
    evaluate: async () => ({ miou: 0.5, pixelAccuracy: 0.5, iou: [0.5, 0.5, 0.5], classes: ['a', 'b', 'c'] }),
  });
  try {
    return await trainer.run({ until: iters });
  } finally {
    trainer.dispose();
  }
}

function weights(path: string): Map<string, Float32Array | Int32Array> {
  const t = io.readSafetensors(path);
  const m = new Map(Object.entries(t).map(([k, v]) => [k, v.native.toArray() as Float32Array | Int32Array]));
  for (const v of Object.values(t)) v.dispose();
  return m;
}

describe('Trainer', () => {
  const N = 6;
  const straight = join(root, 'straight');

  it(`runs ${N} iterations, logging losses, evaluations and checkpoints into the run folder`, async () => {
    const r = await trainTo(straight, N, { evalEvery: 3 });
    expect(r).toMatchObject({ iter: N, stopped: false });
    const log = T.readRunLog(straight);
    expect(log.filter((l) => l.type === 'train').map((l) => l.iter)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log.filter((l) => l.type === 'eval').map((l) => l.iter)).toEqual([3, 6]);
    const losses = trainLosses(straight);
    expect(losses.every(Number.isFinite)).toBe(true);
    // The poly schedule: the first iteration uses the base rate, the rate falls every iteration.
    const lrs = log.filter((l): l is T.TrainLogLine => l.type === 'train').map((l) => l.lr);
    expect(lrs[0]).toBe(0.01);
    expect(lrs[5]).toBeCloseTo(0.01 * Math.pow(1 - 5 / 6, 0.9), 12);
    for (const k of [2, 4, 6]) expect(existsSync(join(straight, 'checkpoints', `iter-${k}.safetensors`))).toBe(true);
    expect(JSON.parse(readFileSync(join(straight, 'config.json'), 'utf8')).iters).toBe(N);
  });

  it('N/2 iterations then resume to N gives the same losses and weights bit for bit', async () => {
    const split = join(root, 'split');
    const first = await trainTo(split, N / 2, { fullIters: N, evalEvery: 3 });
    expect(first).toMatchObject({ iter: N / 2, stopped: true });
    const r = await trainTo(split, N, { resume: true, evalEvery: 3 });
    expect(r).toMatchObject({ iter: N, stopped: false });
    expect(trainLosses(split)).toEqual(trainLosses(straight));
    expect(weights(join(split, 'checkpoints', 'last.safetensors'))).toEqual(weights(join(straight, 'checkpoints', 'last.safetensors')));
  });

  it('resumes bit-identically from the checkpoint a child process writes on SIGINT (exit 130)', async () => {
    const iters = 400;
    const ref = join(root, 'sigint-ref');
    const out = join(root, 'sigint');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/train-child.ts', out, String(iters)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!sent && /iter 3\n/.test(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(code, stderr).toBe(130);
    const at = Number(/stopped at iteration (\d+)/.exec(stdout)?.[1]);
    expect(at).toBeGreaterThanOrEqual(3);
    expect(at).toBeLessThan(iters);
    expect(T.readTrainState(join(out, 'checkpoints', 'last.safetensors')).iter).toBe(at);
    // Resume to at + 3 and compare with an uninterrupted run of the same length on the same schedule.
    const to = at + 3;
    const resumed = new T.Trainer({ config: tinyConfig(iters), out, makeLoader: tinyLoader, resume: true });
    await resumed.run({ until: to });
    resumed.dispose();
    const direct = new T.Trainer({ config: tinyConfig(iters), out: ref, makeLoader: tinyLoader });
    await direct.run({ until: to });
    direct.dispose();
    const a = trainLosses(out);
    const b = trainLosses(ref);
    expect(a.length).toBe(b.length);
    expect(a).toEqual(b);
  }, 60000);
});
