// End-to-end use of the CUDA device through the public API: `ann-seg train|eval|predict|bench
// --device cuda` and the Trainer's `device`. Each test asserts what this build must do: where CUDA is
// unavailable (the CPU build), every command refuses --device cuda with one line naming why; where it
// is available (the emulated build in CI, a GPU), a CUDA run gives the CPU run's numbers.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import sharp from 'sharp';

import { cuda, io, native, train as T, type Device } from '../lib/index.js';
import { capture } from './helpers/cli.js';
import { FLOOR, Fixture } from './helpers/parity.js';
import { tinyConfig, tinyLoader, trainLosses } from './helpers/tiny-run.js';

const root = mkdtempSync(join(tmpdir(), 'ann-cuda-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hasCuda = cuda.isAvailable();
// Tiny sizes: the emulated device runs every kernel on fibers.
const TINY = ['--preset', 'tiny', '--iters', '2', '--batch', '1', '--crop', '32', '--checkpoint-every', '0'];

/**
 * The parity rule bounds each backend's loss against the float64 truth by 2 * e32 + FLOOR * max(1, |L|),
 * e32 being PyTorch's own float32 error; so two backends that both meet it differ by at most twice
 * that. This CLI run has no fixture of its own: e32 is taken, relative to the loss, as the largest
 * PyTorch float32 error of the same network's loss after SGD steps (the ann_model fixtures).
 */
function lossAllowance(loss: number): number {
  let rel = 0;
  for (const tag of ['r18', 'r50']) {
    const gx = new Fixture(`ann_model_${tag}_grads`);
    const truth = gx.raw('sgd.loss.f64').data as Float64Array;
    const f32 = gx.raw('sgd.loss.f32').data as Float32Array;
    truth.forEach((t, i) => (rel = Math.max(rel, Math.abs(f32[i] - t) / Math.abs(t))));
    gx.dispose();
  }
  return 2 * (2 * rel * Math.abs(loss) + FLOOR * Math.max(1, Math.abs(loss)));
}

function weights(path: string): Map<string, number[]> {
  const t = io.readSafetensors(path, { device: 'cpu' });
  const m = new Map(Object.entries(t).map(([k, v]) => [k, Array.from(v.native.toArray())]));
  for (const v of Object.values(t)) v.dispose();
  return m;
}

describe('--device cuda where CUDA is unavailable', () => {
  it('train, eval, predict and bench refuse it with one line naming why (exit 2)', async () => {
    if (hasCuda) {
      // The other side of the same contract: the flag is accepted (the runs below exercise it).
      expect(cuda.unavailableReason()).toBeNull();
      return;
    }
    const why = cuda.unavailableReason();
    expect(why).toMatch(/\S/);
    const commands = [
      ['train', ...TINY, '--out', join(root, 'refused'), '--device', 'cuda'],
      ['eval', '--checkpoint', join(root, 'none'), '--data', 'synthetic', '--device', 'cuda'],
      ['predict', '--checkpoint', join(root, 'none'), 'x.png', '--out', join(root, 'p'), '--device', 'cuda'],
      ['bench', 'step', '--quick', '--device', 'cuda'],
    ];
    for (const argv of commands) {
      const r = await capture(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toBe(`ann-seg ${argv[0]}: --device cuda: CUDA is unavailable here (${why})`);
    }
    expect(existsSync(join(root, 'refused'))).toBe(false);
    expect(() => cuda.setTF32(true)).toThrow(`setTF32: cuda: unavailable (${why})`);
    expect(cuda.tf32()).toBe(false);
    // Nothing queued, nothing to wait for.
    expect(() => cuda.synchronize()).not.toThrow();
  });

  it('a bad --device is a usage error naming the value', async () => {
    const r = await capture(['train', ...TINY, '--out', join(root, 'bad'), '--device', 'gpu']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`ann-seg train: --device: unknown device "gpu" (expected 'cpu' or 'cuda')`);
  });
});

describe('--device cuda end to end', () => {
  const outs: Record<Device, string> = { cpu: join(root, 'train-cpu'), cuda: join(root, 'train-cuda') };

  it("train --device cuda --iters 2 gives the CPU run's losses within the parity rule's float32 allowance", async () => {
    if (!hasCuda) return void expect(cuda.isAvailable()).toBe(false);
    for (const device of ['cpu', 'cuda'] as const) {
      const r = await capture(['train', ...TINY, '--out', outs[device], '--device', device]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(device === 'cuda' ? `cuda: ${native.info().cuda} -> ` : ' threads -> ');
    }
    const [cpu, gpu] = [trainLosses(outs.cpu), trainLosses(outs.cuda)];
    expect(gpu).toHaveLength(2);
    cpu.forEach((l, i) => expect(Math.abs(gpu[i] - l), `iteration ${i + 1}: cuda ${gpu[i]} vs cpu ${l}`).toBeLessThanOrEqual(lossAllowance(l)));
    // The CUDA run's checkpoint is a model checkpoint like any other: it loads on the CPU.
    const w = weights(join(outs.cuda, 'checkpoints', 'last.safetensors'));
    expect(w.size).toBe(weights(join(outs.cpu, 'checkpoints', 'last.safetensors')).size);
    for (const [k, v] of w) expect(v.every(Number.isFinite), k).toBe(true);
  });

  it("eval and predict --device cuda give the CPU's confusion matrix and mask for the CPU run's checkpoint", async () => {
    if (!hasCuda) return void expect(cuda.isAvailable()).toBe(false);
    const results: Record<string, { confusion: number[][]; miou: number; device: string }> = {};
    for (const device of ['cpu', 'cuda'] as const) {
      const json = join(root, `eval-${device}.json`);
      const r = await capture(['eval', '--checkpoint', outs.cpu, '--data', 'synthetic', '--limit', '2', '--json', json, '--device', device]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`whole image, scales 1 on ${device}`);
      results[device] = JSON.parse(readFileSync(json, 'utf8'));
    }
    expect(results.cuda.device).toBe('cuda');
    expect(results.cuda.confusion).toEqual(results.cpu.confusion);
    expect(results.cuda.miou).toBe(results.cpu.miou);

    const image = join(root, 'scene.png');
    const pixels = Buffer.from(Array.from({ length: 40 * 36 * 3 }, (_, i) => (i * 7 + (i % 120 < 60 ? 90 : 0)) % 256));
    await sharp(pixels, { raw: { width: 40, height: 36, channels: 3 } }).png().toFile(image);
    const masks: Buffer[] = [];
    for (const device of ['cpu', 'cuda'] as const) {
      const out = join(root, `predict-${device}`);
      const r = await capture(['predict', '--checkpoint', outs.cpu, image, '--out', out, '--device', device]);
      expect(r.code, r.err).toBe(0);
      masks.push(readFileSync(join(out, 'scene_mask.png')));
    }
    expect(masks[1].equals(masks[0])).toBe(true);
  });

  it('the Trainer on CUDA resumes bit-identically and saves its device tensors exactly', async () => {
    if (!hasCuda) return void expect(cuda.isAvailable()).toBe(false);
    const N = 4;
    const run = async (out: string, iters: number, resume = false) => {
      const trainer = new T.Trainer({ config: tinyConfig(N, { checkpointEvery: 2 }), out, makeLoader: tinyLoader, resume, device: 'cuda' });
      try {
        expect(trainer.device).toBe('cuda');
        expect(trainer.model.parameters().every((p) => p.device === 'cuda')).toBe(true);
        await trainer.run({ until: iters });
        // What was written is what the device holds, bit for bit.
        const saved = weights(trainer.paths.last);
        for (const [k, t] of Object.entries(trainer.model.stateDict())) expect(saved.get(k), k).toEqual(Array.from(t.native.toArray()));
      } finally {
        trainer.dispose();
      }
    };
    const straight = join(root, 'resume-straight');
    const split = join(root, 'resume-split');
    await run(straight, N);
    await run(split, N / 2);
    await run(split, N, true);
    expect(trainLosses(split)).toEqual(trainLosses(straight));
    expect(weights(join(split, 'checkpoints', 'last.safetensors'))).toEqual(weights(join(straight, 'checkpoints', 'last.safetensors')));
    expect(weights(join(split, 'checkpoints', 'last.optim.safetensors'))).toEqual(weights(join(straight, 'checkpoints', 'last.optim.safetensors')));
    // Eight emulated training steps: about 20 s alone, several times that on a loaded CI machine.
  }, 300_000);

  it('bench kernels --device cuda runs its cases on the device', async () => {
    if (!hasCuda) return void expect(cuda.isAvailable()).toBe(false);
    const saved = { device: process.env.ANN_SEG_DEVICE, tf32: process.env.ANN_SEG_TF32 };
    try {
      const json = join(root, 'bench-pool.json');
      const r = await capture(['bench', 'kernels', 'pool', '--filter', 'pyramidPool avg fwd ', '--quick', '--device', 'cuda', '--json', json]);
      expect(r.code, r.err).toBe(0);
      const out = JSON.parse(readFileSync(json, 'utf8'));
      expect(out.target).toMatchObject({ device: 'cuda', tf32: false });
      expect(out.rows.map((x: { name: string }) => x.name)).toEqual(['pyramidPool avg fwd 1x256x256x128']);
      expect(out.rows[0].ms).toBeGreaterThan(0);
    } finally {
      for (const [k, v] of [['ANN_SEG_DEVICE', saved.device], ['ANN_SEG_TF32', saved.tf32]] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

/** x rounded to TF32 (10 mantissa bits, to nearest even), as the tensor cores read float32 inputs. */
function toTF32(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x0fff + ((u[0] >>> 13) & 1)) & 0xffffe000;
  return f[0];
}

describe('cuda.setTF32', () => {
  it('switches the cuBLAS GEMMs to TF32 (inputs to 10 mantissa bits, float32 sums) and back', () => {
    if (!hasCuda) return void expect(() => cuda.setTF32(false)).toThrow(/^setTF32: cuda: unavailable \(/);
    const [M, K, N] = [24, 200, 20];
    let s = 7;
    const rand = (n: number) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
    const a = rand(M * K);
    const b = rand(K * N);
    // float64 products of the float32 inputs and of their TF32 roundings, and sum |a| |b| per element.
    const ref = (round: (x: number) => number) =>
      Float64Array.from({ length: M * N }, (_, e) => {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += round(a[Math.floor(e / N) * K + k]) * round(b[k * N + (e % N)]);
        return acc;
      });
    const exact = ref((x) => x);
    const rounded = ref(toTF32);
    const magnitude = Float64Array.from({ length: M * N }, (_, e) => {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += Math.abs(a[Math.floor(e / N) * K + k] * b[k * N + (e % N)]);
      return acc;
    });
    const matmul = () => {
      const [ta, tb] = [native.fromArray(a, [M, K], 'cuda'), native.fromArray(b, [K, N], 'cuda')];
      const c = native.matmul(ta, tb);
      const out = c.toArray() as Float32Array;
      for (const t of [ta, tb, c]) t.dispose();
      return out;
    };
    const maxErr = (x: Float32Array, truth: Float64Array, unit = 1) => Math.max(...Array.from(x, (v, i) => Math.abs(v - truth[i]) / (unit * magnitude[i])));
    // Float32 sums of K products: at most K * 2^-24 of sum |a b| (the classic bound).
    const gamma = K * 2 ** -24;
    const was = cuda.tf32();
    try {
      cuda.setTF32(false);
      expect(cuda.tf32()).toBe(false);
      const f32 = matmul();
      cuda.setTF32(true);
      expect(cuda.tf32()).toBe(true);
      expect(native.info().cuda).toMatch(/\(TF32 on\)$/);
      const tf = matmul();
      expect(maxErr(f32, exact)).toBeLessThanOrEqual(gamma);
      // TF32: each input within 2^-11 (to nearest; 2^-10 were it truncated), so each product within
      // 2^-9 of its value, plus the float32 sums' error; and measurably coarser than float32.
      expect(maxErr(tf, exact)).toBeLessThanOrEqual(2 ** -9 + gamma);
      expect(maxErr(tf, exact)).toBeGreaterThan(10 * maxErr(f32, exact));
      // The emulated tensor cores round exactly so: the float32 sums of the rounded inputs.
      if (native.info().cuda.startsWith('emulated')) expect(maxErr(tf, rounded)).toBeLessThanOrEqual(gamma);
      cuda.setTF32(false);
      expect(Array.from(matmul())).toEqual(Array.from(f32));
    } finally {
      cuda.setTF32(was);
    }
  });
});
