// The `ann-seg` command line, called in-process through run() with console output captured.
import { afterEach, describe, expect, it, vi } from 'vitest';

import { models } from '../lib/index.js';
import { capture } from './helpers/cli.js';


afterEach(() => vi.restoreAllMocks());

const fmt = (n: number) => n.toLocaleString('en-US');
const SMALL = ['--depth', '18', '--width', '0.0625', '--classes', '5'];

describe('ann-seg info --model', () => {
  it('prints the parameter counts of a preset: backbone, each head, heads and total', async () => {
    const { code, out } = await capture(['info', '--model', 'apnb', ...SMALL]);
    expect(code).toBe(0);
    using m = models.ANN({ depth: 18, width: 0.0625, numClasses: 5, variant: 'apnb' });
    const c = models.parameterCounts(m);
    expect(out).toContain('depth 18, width 0.0625, 5 classes');
    const row = out.split('\n').find((l) => l.startsWith('apnb '))!;
    expect(row.trim().split(/\s+/).slice(1, 8)).toEqual([c.backbone, c.fusion, c.context, c.cls, c.dsn, c.heads, c.total].map(fmt));
    expect(row).toContain('+ APNB');
    expect(c.fusion).toBe(0);
    expect(c.total).toBe(m.parameters().reduce((n, p) => n + p.size, 0));
  });

  it('--model all prints every Table 6 preset', async () => {
    const { code, out } = await capture(['info', '--model', 'all', ...SMALL]);
    expect(code).toBe(0);
    for (const v of models.VARIANTS) expect(out.split('\n').some((l) => l.startsWith(`${v} `)), v).toBe(true);
    expect(out).toContain('+ AFNB + APNB (Full)');
  });

  it('defaults to the official network: depth 101, 19 classes', async () => {
    const { code, out } = await capture(['info', '--model', 'full']);
    expect(code).toBe(0);
    expect(out).toContain('depth 101, width 1, 19 classes');
    // 42.6M in the backbone, 25.1M in the heads: the official checkpoint's parameters.
    expect(out).toMatch(/^full\s+42,623,936\s+9,971,456\s+10,359,296\s+9,747\s+4,729,875\s+25,070,374\s+67,694,310/m);
  });

  it('rejects an unknown preset, option or value with usage status 2', async () => {
    let r = await capture(['info', '--model', 'apnb+nb']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown model preset 'apnb\+nb' \(expected one of baseline, nb, .*full, or all\)/);
    r = await capture(['info', '--model', 'full', '--layers', '3']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown option '--layers'/);
    r = await capture(['info', '--model', 'full', '--depth', '42']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--depth must be one of 18, 34, 50, 101, 152, got 42/);
    r = await capture(['info', '--model', 'full', '--classes', 'x']);
    expect(r.err).toMatch(/--classes must be a number, got 'x'/);
    r = await capture(['info', '--model', 'full', '--classes', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/numClasses must be a positive integer, got 0/);
    r = await capture(['info', '--depth', '50']);
    expect(r.err).toMatch(/go with --model/);
    r = await capture(['info', '--model']);
    expect(r.err).toMatch(/'--model' needs a value/);
  });

  it('plain info still reports the native build', async () => {
    const { code, out } = await capture(['info']);
    expect(code).toBe(0);
    expect(out).toMatch(/blas:.*\n\s+threads:/);
  });
});

// The Table 1 benchmark at a tiny size (13x6, channels as the paper's): the rows and the analytic
// FLOP counts, written out here from the formulas; the times are printed, never asserted.
describe('ann-seg bench blocks', () => {
  const N = 13 * 6;
  const C = 2048;
  const LOW = 1024;
  const CK = 256;
  // Pyramid 1,3,6,8 over 13x6: the bins' areas (overlapping adaptive bins) add up to
  // 78 + 15*6 + 18*6 + 20*12 = 516 elements read per channel.
  const POOL = 516 * (CK + CK);
  const fwd = (projections: number, pooling: number, s: number) => {
    const parts = [projections, pooling, 2 * N * s * (CK + CK), 2 * N * CK * C, 2 * N * (C + C) * C];
    return [...parts, parts.reduce((a, b) => a + b, 0)];
  };
  const x3 = (parts: number[]) => parts.map((p) => 3 * p);
  const expected: Record<string, number[]> = {
    // NB/APNB: one shared key/query conv and the value conv in evaluation; training calls f_key twice.
    'NB fwd': fwd(2 * 2 * N * C * CK, 0, N),
    'APNB fwd': fwd(2 * 2 * N * C * CK, POOL, 110),
    'APNB fwd+bwd': x3(fwd(3 * 2 * N * C * CK, POOL, 110)),
    // FNB/AFNB: key and value from the 1024-channel low input, query from the 2048-channel high one.
    'FNB fwd': fwd(2 * N * (LOW + C + LOW) * CK, 0, N),
    'AFNB fwd': fwd(2 * N * (LOW + C + LOW) * CK, POOL, 110),
    'AFNB fwd+bwd': x3(fwd(2 * N * (LOW + C + LOW) * CK, POOL, 110)),
  };

  it('prints the time table and the FLOP breakdown of every default case', async () => {
    const { code, out } = await capture(['bench', 'blocks', '--scale', '0.05', '--runs', '1']);
    expect(code).toBe(0);
    expect(out).toContain('13x6 (N = 78)');
    const lines = out.split('\n');
    const rowsOf = (header: string) => {
      const start = lines.findIndex((l) => l.startsWith(header));
      return lines.slice(start + 1, start + 1 + Object.keys(expected).length).map((l) => l.trim().split(/\s+/));
    };
    const time = rowsOf('block  mode      HxW');
    const flops = rowsOf('block  mode     projections');
    expect(time.map((r) => `${r[0]} ${r[1]}`)).toEqual(Object.keys(expected));
    expect(flops.map((r) => `${r[0]} ${r[1]}`)).toEqual(Object.keys(expected));
    for (const [i, name] of Object.keys(expected).entries()) {
      const want = expected[name];
      expect(flops[i].slice(2), name).toEqual(want.map(fmt));
      const [, , hw, n, s, ms, gflop, , peak] = time[i];
      expect([hw, n, s], name).toEqual(['13x6', '78', name.includes('AP') || name.includes('AF') ? '110' : '78']);
      expect(gflop, name).toBe((want[5] / 1e9).toFixed(3));
      expect(Number(ms), name).toBeGreaterThan(0);
      expect(Number(peak.replace('<=', '')), name).toBeGreaterThan(0);
    }
    expect(out).not.toMatch(/^NB\s+fwd\+bwd/m);
  });

  it('rejects a bad scale, run count or benchmark name with usage status 2', async () => {
    let r = await capture(['bench', 'blocks', '--scale', '2']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--scale must be in \(0, 1\], got 2/);
    r = await capture(['bench', 'blocks', '--runs', '0']);
    expect(r.err).toMatch(/--runs must be a positive integer, got 0/);
    r = await capture(['bench', 'layers']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown benchmark 'layers' \(expected kernels, blocks, step\)/);
  });
});

describe('ann-seg dispatch', () => {
  it('lists every command, and each answers --help with its own usage', async () => {
    const { code, out } = await capture(['--help']);
    expect(code).toBe(0);
    const names = [...out.matchAll(/^ {2}(\S+)\s{2,}/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['info', 'bench']));
    for (const name of names) {
      const r = await capture([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.out, name).toMatch(new RegExp(`^usage: ann-seg ${name}`));
    }
  });

  it('rejects an unknown command with status 2 and the command list', async () => {
    const r = await capture(['trian']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command 'trian'[\s\S]*info/);
  });
});

describe('ann-seg argument errors', () => {
  it('says how to pass a value that starts with a dash, and then checks its range', async () => {
    let r = await capture(['bench', 'blocks', '--scale', '-1']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/option '--scale' needs a value \(a value starting with '-' goes as --scale=VALUE\)/);
    r = await capture(['bench', 'blocks', '--scale=-1']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--scale must be in \(0, 1\], got -1/);
  });
});
