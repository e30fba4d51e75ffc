// `ann-seg bench kernels|blocks|step` as CI's smoke run calls them (--quick): the rows they print
// and write, --compare against a PyTorch JSON, and bad input. Times are printed, never asserted.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import { parseSizes } from '../lib/cli/bench/blocks-cases.js';
import { capture } from './helpers/cli.js';

afterEach(() => vi.restoreAllMocks());
const dir = mkdtempSync(join(tmpdir(), 'ann-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Json {
  kind: string;
  machine: { blasCore: string; sgemmGflops?: number; copyGBs?: number };
  rows: { name: string; ms: number; share?: number; torch?: { ms: number; msDefault?: number } }[];
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Json;

describe('ann-seg bench kernels', () => {
  it('times a family beside the machine rates, with shares, progress and JSON', async () => {
    const json = join(dir, 'kernels.json');
    const { code, out, err } = await capture(['bench', 'kernels', 'elementwise', '--quick', '--json', json]);
    expect(code).toBe(0);
    expect(out).toMatch(/^machine: sgemm 512\^3 [\d.]+ GFLOP\/s, copy of 4 MiB [\d.]+ GB\/s; \d+ threads, SIMD \w+, OpenBLAS core \w+/m);
    expect(err).toMatch(/^\[1\/5\] elementwise add \[1,512,129,129\]: [\d.]+ ms$/m);
    const r = readJson(json);
    expect(r.kind).toBe('kernels');
    expect(r.machine.sgemmGflops).toBeGreaterThan(0);
    expect(r.rows.map((row) => row.name)).toEqual([
      'add [1,512,129,129]',
      'relu fwd+bwd [1,512,129,129]',
      'permute [1,256,8192]->[1,8192,256]',
      'cat 2x[1,2048,65,65] axis 1',
      'matmul 2048x2048x2048',
    ]);
    // Every case declares its flops or its bytes, so each has a share of a machine rate.
    for (const row of r.rows) expect(row.share, row.name).toBeGreaterThan(0);
    expect(out).toMatch(/^elementwise\s+matmul 2048x2048x2048\s+[\d.]+\s+[\d.]+\s+\d+%$/m);
  });

  it('puts PyTorch beside each case from a --compare JSON, and rejects an unknown family', async () => {
    const torch = join(dir, 'torch-kernels.json');
    writeFileSync(torch, JSON.stringify({ kind: 'kernels', torch: 'test', rows: [{ name: 'add [1,512,129,129]', ms: 1e6, msDefault: 2e6 }] }));
    const { code, out } = await capture(['bench', 'kernels', 'elementwise', '--filter', 'add', '--quick', '--compare', torch]);
    expect(code).toBe(0);
    const row = out.split('\n').find((l) => l.startsWith('elementwise'))!;
    expect(row).toMatch(/1000000\.0\s+2000000\.0\s+0\.00$/);
    const r = await capture(['bench', 'kernels', 'attn']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown kernel family 'attn' \(expected one of attention, conv, elementwise, interp, loss, pool\)/);
  });
});

describe('ann-seg bench blocks', () => {
  it('parses --sizes as HxW pairs', () => {
    expect(parseSizes('96x96,256x128')).toEqual([
      { height: 96, width: 96 },
      { height: 256, width: 128 },
    ]);
    expect(() => parseSizes('96x0')).toThrow(/--sizes: expected HxW/);
  });

  it('--sizes sets the size; --json and --compare match rows by name and size', { timeout: 180_000 }, async () => {
    const json = join(dir, 'blocks.json');
    const torch = join(dir, 'torch-blocks.json');
    writeFileSync(torch, JSON.stringify({ kind: 'blocks', torch: 'test', rows: [{ name: 'APNB fwd 3x2', ms: 1e6, msDefault: 3e6, rssBytes: 2 ** 20 }] }));
    const { code, out, err } = await capture(['bench', 'blocks', '--sizes', '3x2', '--only', 'APNB,AFNB', '--runs', '1', '--json', json, '--compare', torch]);
    expect(code).toBe(0);
    expect(out).toContain('batch 1, 3x2 (N = 6);');
    expect(err).toMatch(/^\[4\/4\] AFNB fwd\+bwd 3x2: /m);
    const names = readJson(json).rows.map((r) => r.name);
    expect(names).toEqual(['APNB fwd', 'APNB fwd+bwd', 'AFNB fwd', 'AFNB fwd+bwd'].map((n) => `${n} 3x2`));
    const row = out.split('\n').find((l) => /^APNB\s+fwd\s+3x2/.test(l))!;
    expect(row).toMatch(/1000000\.0\s+3000000\.0\s+1\.0\s+0\.00$/);
    expect(readJson(json).rows.find((r) => r.name === 'APNB fwd 3x2')!.torch!.msDefault).toBe(3e6);
  });

  it('rejects bad sizes, both size flags, both torch sources and a JSON of another kind', async () => {
    let r = await capture(['bench', 'blocks', '--sizes', '96x']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--sizes: expected HxW\[,HxW...\] with positive integers, got '96x'/);
    r = await capture(['bench', 'blocks', '--sizes', '4x4', '--scale', '0.5']);
    expect(r.err).toMatch(/give --sizes or --scale, not both/);
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ kind: 'step', rows: [] }));
    r = await capture(['bench', 'blocks', '--compare', other]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--compare .*other\.json: expected the JSON of bench\/torch\/run\.py blocks \(kind 'blocks', rows\), got kind 'step'/);
    r = await capture(['bench', 'blocks', '--compare', join(dir, 'missing.json')]);
    expect(r.err).toMatch(/--compare .*missing\.json: ENOENT/);
    r = await capture(['bench', 'blocks', '--compare', other, '--torch']);
    expect(r.err).toMatch(/give --torch or --compare, not both/);
    r = await capture(['bench', 'blocks', '--only', 'APNB,ANB']);
    expect(r.err).toMatch(/--only: unknown block 'ANB' \(expected some of NB, APNB, FNB, AFNB\)/);
  });
});

describe('ann-seg bench step', () => {
  it('--quick times one training step of the tiny preset, with its memory', async () => {
    const json = join(dir, 'step.json');
    const { code, out } = await capture(['bench', 'step', '--quick', '--batch', '1', '--crop', '33', '--json', json]);
    expect(code).toBe(0);
    expect(out).toMatch(/preset tiny, full, depth 18, width 0\.125, batch 1, crop 33;/);
    const row = out.split('\n').find((l) => l.startsWith('step '))!.trim().split(/\s+/);
    expect(row[1]).toBe('1');
    expect(Number(row[3])).toBeGreaterThan(0);
    const r = readJson(json);
    expect(r.rows[0].name).toBe('step tiny batch 1 crop 33');
  });

  it('rejects an unknown preset, a bad batch and a bad crop', async () => {
    let r = await capture(['bench', 'step', '--preset', 'huge']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown preset 'huge' \(expected one of small, context, tiny, official\)/);
    r = await capture(['bench', 'step', '--batch', '0']);
    expect(r.err).toMatch(/--batch must be at least 1, got 0/);
    r = await capture(['bench', 'step', '--crop', '64x']);
    expect([r.code, r.err]).toEqual([2, "ann-seg bench: --crop must be a side or HEIGHTxWIDTH, integers of at least 8 (e.g. 64 or 64x512), got '64x'"]);
  });
});
