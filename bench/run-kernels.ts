// `npm run bench:kernels [filter]`: times every case in bench/kernels/*.ts, runs the matching
// PyTorch cases (bench/torch/*.py) when Debian's python3-torch is installed, prints a table and
// writes bench/results/kernels.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { native, packageRoot } from '../lib/native/index.js';
import { timeCase, type BenchCase, type Timing } from './harness.js';

const root = packageRoot();
const filter = process.argv[2];
const PYTHON = '/usr/bin/python3';
// Debian's torch calls the system libblas.so.3; the OpenMP OpenBLAS build is the fast one that
// does not fight PyTorch's own threads.
const OPENBLAS_OMP = '/usr/lib/x86_64-linux-gnu/openblas-openmp';

function torchAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function torchTimings(family: string): Map<string, Timing> {
  const script = join(root, 'bench', 'torch', `${family}.py`);
  const out = new Map<string, Timing>();
  if (!existsSync(script)) return out;
  const env = { ...process.env };
  if (existsSync(join(OPENBLAS_OMP, 'libblas.so.3')))
    env.LD_LIBRARY_PATH = [OPENBLAS_OMP, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const text = execFileSync(PYTHON, [script, ...(filter ? [filter] : [])], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const t = JSON.parse(line) as Timing;
    out.set(t.name, t);
  }
  return out;
}

const files = readdirSync(join(root, 'bench', 'kernels')).filter((f) => f.endsWith('.ts')).sort();
const haveTorch = torchAvailable();
const rows: { family: string; ours: Timing; torch?: Timing }[] = [];
for (const file of files) {
  const family = file.replace(/\.ts$/, '');
  const mod = (await import(join(root, 'bench', 'kernels', file))) as { benches: BenchCase[] };
  const cases = mod.benches.filter((c) => !filter || c.name.includes(filter) || family === filter);
  if (cases.length === 0) continue;
  const torch = haveTorch ? torchTimings(family) : new Map<string, Timing>();
  for (const c of cases) {
    const ours = timeCase(c);
    rows.push({ family, ours, torch: torch.get(c.name) });
    const t = torch.get(c.name);
    const ratio = t ? ` | torch ${t.ms.toFixed(2)} ms | x${(t.ms / ours.ms).toFixed(2)}` : '';
    const gf = ours.gflops ? ` (${ours.gflops.toFixed(1)} GFLOP/s)` : '';
    console.log(`${family.padEnd(11)} ${c.name.padEnd(58)} ${ours.ms.toFixed(2).padStart(9)} ms${gf}${ratio}`);
  }
}
const info = native.info();
const outPath = join(root, 'bench', 'results', 'kernels.json');
// A filtered run updates its own rows and keeps the others.
type Row = { family: string; name: string; ms: number; gflops?: number; torchMs?: number };
const kept: Row[] =
  filter && existsSync(outPath)
    ? (JSON.parse(readFileSync(outPath, 'utf8')) as { rows: Row[] }).rows.filter((r) => !rows.some((n) => n.ours.name === r.name))
    : [];
const result = {
  date: new Date().toISOString(),
  machine: { threads: info.threads, simd: info.simd, blas: info.blas, node: process.version },
  torch: haveTorch ? `python3-torch with ${existsSync(OPENBLAS_OMP) ? 'OpenBLAS (OpenMP build)' : 'system BLAS'}` : 'not installed',
  rows: [
    ...kept,
    ...rows.map((r) => ({ family: r.family, name: r.ours.name, ms: r.ours.ms, gflops: r.ours.gflops, torchMs: r.torch?.ms })),
  ].sort((a, b) => a.family.localeCompare(b.family)),
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(outPath, JSON.stringify(result, null, 2) + '\n');
console.log(`\nwrote bench/results/kernels.json (${rows.length} cases; PyTorch: ${result.torch})`);
