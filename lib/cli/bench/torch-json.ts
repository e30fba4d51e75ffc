// The JSON that bench/torch/run.py writes for PyTorch (kernels, blocks, step), read by --compare.
// Every row is matched to ours by name.
import { readFileSync } from 'node:fs';

import { UsageError } from '../args.js';

export interface TorchRow {
  name: string;
  /** Median ms with freed memory reused (glibc told to keep freed memory: MALLOC_MMAP_MAX_=0, no trim). */
  ms: number;
  /** Median ms on glibc's default allocator (large blocks mmap'd and unmapped every time). */
  msDefault?: number;
  /** Peak RSS growth over the runs, each allocator. */
  rssBytes?: number;
  rssBytesDefault?: number;
}

export interface TorchJson {
  kind: 'kernels' | 'blocks' | 'step';
  torch: string;
  blasCore?: string;
  rows: TorchRow[];
}

export function readTorchJson(path: string, kind: TorchJson['kind']): Map<string, TorchRow> {
  let parsed: TorchJson;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as TorchJson;
  } catch (err) {
    throw new UsageError(`--compare ${path}: ${(err as Error).message}`);
  }
  if (parsed?.kind !== kind || !Array.isArray(parsed.rows))
    throw new UsageError(`--compare ${path}: expected the JSON of bench/torch/run.py ${kind} (kind '${kind}', rows), got kind '${String(parsed?.kind)}'`);
  return new Map(parsed.rows.map((r) => [r.name, r]));
}
