// PyTorch's side run from `ann-seg bench ... --torch`: bench/torch/run.py (a source checkout
// only: bench/ is not shipped) for one case, right after ours, on both allocators.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { native, packageRoot } from '../../native/index.js';
import { UsageError } from '../args.js';
import type { TorchRow } from './torch-json.js';

const PYTHON = '/usr/bin/python3';

function script(): string {
  const path = join(packageRoot(), 'bench', 'torch', 'run.py');
  if (!existsSync(path)) throw new UsageError(`--torch needs bench/torch/run.py (a source checkout of ann-seg); use --compare FILE with its JSON instead`);
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    throw new UsageError(`--torch needs PyTorch for ${PYTHON} (Debian: apt-get install python3-torch)`);
  }
  return path;
}

/** One case of bench/torch/run.py blocks|step: the merged row of both allocators. */
export function torchCase(kind: 'blocks' | 'step', caseJson: object, timing: object): TorchRow {
  const env = { ...process.env, ANN_SEG_NUM_THREADS: String(native.info().threads) };
  const text = execFileSync(PYTHON, [script(), kind, '--case', JSON.stringify(caseJson), '--timing', JSON.stringify(timing)], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(text.trim().split('\n').pop()!) as TorchRow;
}

/** Checks up front that --torch can run, so a long benchmark does not fail at its first case. */
export function checkTorch(): void {
  script();
}

/** bench/torch/run.py kernels <family>: that family's rows by name, both allocators (on the GPU: one run). */
export function torchKernelFamily(family: string, quick: boolean, target: { device: 'cpu' | 'cuda'; tf32: boolean }): Map<string, TorchRow> {
  const env = { ...process.env, ANN_SEG_NUM_THREADS: String(native.info().threads), ANN_SEG_TF32: target.tf32 ? '1' : '0' };
  const text = execFileSync(PYTHON, [script(), 'kernels', family, '--device', target.device, ...(quick ? ['--quick'] : [])], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  });
  const parsed = JSON.parse(text) as { rows: TorchRow[] };
  return new Map(parsed.rows.map((r) => [r.name, r]));
}
