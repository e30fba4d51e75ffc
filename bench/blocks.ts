// `npx tsx bench/blocks.ts [--scale s] [--backward] [--runs n] [--no-torch]`: the paper's Table 1
// (NB vs APNB, FNB vs AFNB) with ours beside PyTorch's reference modules (bench/torch/blocks.py)
// in the same run, every case of both in its own fresh process. Prints the table, the FLOP
// breakdown and the NB/APNB, FNB/AFNB ratios; writes bench/results/blocks[-scale-s].json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { blockCases, type BlockCase } from '../lib/bench/blocks-cases.js';
import type { MeasureOptions } from '../lib/bench/blocks-measure.js';
import { describeSetting, FLOP_HEADER, flopCells, renderTable, runBlockBench, TIME_HEADER, timeCells, type BlockRow } from '../lib/bench/blocks.js';
import { native, packageRoot } from '../lib/native/index.js';

const args = process.argv.slice(2);
const value = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const scale = value('scale') ?? 1;
const runs = value('runs');
const backward = args.includes('--backward');
const measure: MeasureOptions = runs === undefined ? {} : { minRuns: runs, maxRuns: runs, budgetMs: 0 };

const root = packageRoot();
const PYTHON = '/usr/bin/python3';
// As bench/run-kernels.ts: Debian's torch calls the system libblas.so.3; the OpenMP OpenBLAS
// build is the fast one that does not fight PyTorch's own threads.
const OPENBLAS_OMP = '/usr/lib/x86_64-linux-gnu/openblas-openmp';

interface TorchTiming {
  name: string;
  ms: number;
  runs: number;
  rssBytes: number;
}

function torchAvailable(): boolean {
  if (args.includes('--no-torch')) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function torchCase(c: BlockCase): TorchTiming {
  const env: NodeJS.ProcessEnv = { ...process.env, ANN_SEG_NUM_THREADS: String(native.info().threads) };
  if (existsSync(join(OPENBLAS_OMP, 'libblas.so.3'))) env.LD_LIBRARY_PATH = [OPENBLAS_OMP, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const script = join(root, 'bench', 'torch', 'blocks.py');
  const text = execFileSync(PYTHON, [script, JSON.stringify(c), JSON.stringify(measure)], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(text.trim().split('\n').pop()!) as TorchTiming;
}

const haveTorch = torchAvailable();
const torch = new Map<string, TorchTiming>();
const MB = 2 ** 20;
console.log(`Table 1 blocks, scale ${scale}, ${blockCases(scale, backward).length} cases; PyTorch: ${haveTorch ? 'yes' : 'no'}`);
const rows: BlockRow[] = runBlockBench({
  scale,
  backward,
  measure,
  onRow(r) {
    const t = haveTorch ? torchCase(r.blockCase) : undefined;
    if (t) torch.set(r.name, t);
    const vs = t ? ` | torch ${t.ms.toFixed(1)} ms, RSS ${(t.rssBytes / MB).toFixed(0)} MB` : '';
    console.log(`  ${r.name.padEnd(13)} ${r.measured.ms.toFixed(1).padStart(9)} ms, peak ${(r.measured.peakBytes / MB).toFixed(0)} MB${vs}`);
  },
});

console.log(`\n${describeSetting(rows)}; ${native.info().threads} threads`);
const header = [...TIME_HEADER, 'torch ms', 'torch RSS MB', 'torch/ours'];
const cells = rows.map((r) => {
  const t = torch.get(r.name);
  return [...timeCells(r), ...(t ? [t.ms.toFixed(1), (t.rssBytes / MB).toFixed(1), (t.ms / r.measured.ms).toFixed(2)] : ['', '', ''])];
});
console.log(renderTable(header, cells));
console.log('\nanalytic FLOPs per run (a multiply-add is 2; fwd+bwd is 3x the training forward):');
console.log(renderTable(FLOP_HEADER, rows.map(flopCells)));

// What Table 1 is about: how much the non-local block costs over the asymmetric one.
console.log('\nratios (non-local / asymmetric):');
const ratioRows: string[][] = [];
for (const [nb, ap] of [['NB', 'APNB'], ['FNB', 'AFNB']]) {
  for (const mode of ['fwd', 'fwd+bwd']) {
    const a = rows.find((r) => r.name === `${nb} ${mode}`);
    const b = rows.find((r) => r.name === `${ap} ${mode}`);
    if (!a || !b) continue;
    const ta = torch.get(a.name);
    const tb = torch.get(b.name);
    const x = (p: number, q: number) => (p / q).toFixed(2);
    ratioRows.push([
      `${nb}/${ap}`,
      mode,
      x(a.flops.total, b.flops.total),
      x(a.measured.ms, b.measured.ms),
      x(a.measured.peakBytes, b.measured.peakBytes),
      ta && tb ? x(ta.ms, tb.ms) : '',
      ta && tb ? x(ta.rssBytes, tb.rssBytes) : '',
    ]);
  }
}
console.log(renderTable(['blocks', 'mode', 'GFLOP', 'time', 'peak MB', 'torch time', 'torch RSS'], ratioRows));

const result = {
  date: new Date().toISOString(),
  scale,
  machine: { ...native.info(), node: process.version },
  torch: haveTorch ? `python3-torch with ${existsSync(OPENBLAS_OMP) ? 'OpenBLAS (OpenMP build)' : 'system BLAS'}` : 'not run',
  rows: rows.map((r) => ({ name: r.name, case: r.blockCase, flops: r.flops, ours: r.measured, torch: torch.get(r.name) })),
};
const file = scale === 1 ? 'blocks.json' : `blocks-scale-${scale}.json`;
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', file), JSON.stringify(result, null, 2) + '\n');
console.log(`\nwrote bench/results/${file}`);
