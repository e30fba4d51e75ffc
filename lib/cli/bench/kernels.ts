// `ann-seg bench kernels [family...]`: times every kernel case of ./kernels/<family>.ts (median of
// repeated runs after two warm-ups), beside this machine's sgemm GFLOP/s and copy GB/s, each case's
// rate as a share of them; with --compare, PyTorch's times from bench/torch/run.py's JSON.
import { native } from '../../native/index.js';
import { benches as attention } from './kernels/attention.js';
import { benches as conv } from './kernels/conv.js';
import { benches as elementwise } from './kernels/elementwise.js';
import { timeCase, type BenchCase } from './kernels/harness.js';
import { benches as interp } from './kernels/interp.js';
import { benches as loss } from './kernels/loss.js';
import { benches as pool } from './kernels/pool.js';
import { describeMachine, measureMachine, type MachineRates } from './machine.js';
import { renderTable } from './table.js';
import type { TorchRow } from './torch-json.js';

export const FAMILIES: Record<string, BenchCase[]> = { attention, conv, elementwise, interp, loss, pool };

export interface KernelRow {
  family: string;
  name: string;
  ms: number;
  gflops?: number;
  /** Bytes moved per second, for the memory-bound cases that declare their traffic. */
  gbs?: number;
  /** gflops / the machine's sgemm rate, or gbs / its copy rate. */
  share?: number;
  torch?: TorchRow;
}

export interface KernelBenchOptions {
  families: string[];
  /** Substring of the case names to run (all without it). */
  filter?: string;
  /** One run per case after one warm-up: a smoke run, not a measurement. */
  quick?: boolean;
  /** PyTorch's rows by name: read from a JSON, or run per family right after ours. */
  torch?: Map<string, TorchRow> | ((family: string) => Map<string, TorchRow>);
  onRow?: (row: KernelRow, index: number, total: number) => void;
}

export function kernelCases(families: string[], filter?: string): { family: string; c: BenchCase }[] {
  for (const f of families)
    if (!Object.hasOwn(FAMILIES, f)) throw new Error(`unknown kernel family '${f}' (expected one of ${Object.keys(FAMILIES).join(', ')})`);
  const chosen = families.length > 0 ? families : Object.keys(FAMILIES);
  return chosen.flatMap((family) => FAMILIES[family].filter((c) => !filter || c.name.includes(filter)).map((c) => ({ family, c })));
}

export function runKernelBench(o: KernelBenchOptions): { machine: MachineRates; rows: KernelRow[] } {
  const machine = measureMachine(o.quick);
  const cases = kernelCases(o.families, o.filter);
  const rows: KernelRow[] = [];
  cases.forEach(({ family, c }, i) => {
    const t = timeCase(c, o.quick ? { minRuns: 1, maxRuns: 1, budgetMs: 0, warmups: 1 } : undefined);
    const gbs = c.bytes ? c.bytes / (t.ms * 1e6) : undefined;
    const share = t.gflops ? t.gflops / machine.sgemmGflops : gbs ? gbs / machine.copyGBs : undefined;
    const row: KernelRow = { family, name: c.name, ms: t.ms, gflops: t.gflops, gbs, share };
    rows.push(row);
    o.onRow?.(row, i, cases.length);
    // A family's PyTorch run follows our last case of it, so the two alternate per family.
    if (typeof o.torch === 'function' && cases[i + 1]?.family !== family) {
      const theirs = o.torch(family);
      for (const r of rows) if (r.family === family) r.torch = theirs.get(r.name);
    }
  });
  if (o.torch instanceof Map) for (const r of rows) r.torch = o.torch.get(r.name);
  return { machine, rows };
}

const fmtMs = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);

export function renderKernelTable(rows: KernelRow[]): string {
  const torch = rows.some((r) => r.torch);
  const header = ['family', 'case', 'ms', 'GFLOP/s', 'GB/s', 'share', ...(torch ? ['torch ms', 'torch default ms', 'ours / torch'] : [])];
  const cells = rows.map((r) => [
    r.family,
    r.name,
    fmtMs(r.ms),
    r.gflops?.toFixed(1) ?? '',
    r.gbs?.toFixed(1) ?? '',
    r.share === undefined ? '' : `${(100 * r.share).toFixed(0)}%`,
    ...(torch ? [r.torch ? fmtMs(r.torch.ms) : '', r.torch?.msDefault ? fmtMs(r.torch.msDefault) : '', r.torch ? (r.ms / r.torch.ms).toFixed(2) : ''] : []),
  ]);
  return renderTable(header, cells);
}

export function kernelJson(machine: MachineRates, rows: KernelRow[]): object {
  const i = native.info();
  return {
    kind: 'kernels',
    date: new Date().toISOString(),
    machine: { ...machine, threads: i.threads, simd: i.simd, blasCore: i.blasCore, coretype: process.env.OPENBLAS_CORETYPE ?? null, node: process.version },
    rows,
  };
}

export { describeMachine };
