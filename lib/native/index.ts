// Loads the native addon: a local build (build/Release) first, then a prebuilt binary for this
// platform (prebuilds/), through node-gyp-build; fails with the command that fixes it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { AttentionKernels } from './kernels/attention.js';
import type { ConvKernels } from './kernels/conv.js';
import type { ElementwiseKernels } from './kernels/elementwise.js';
import type { InterpKernels } from './kernels/interp.js';
import type { LossKernels } from './kernels/loss.js';
import type { NormKernels } from './kernels/norm.js';
import type { OptimKernels } from './kernels/optim.js';
import type { PoolKernels } from './kernels/pool.js';
import type { CoreBinding } from './types.js';

export type * from './types.js';

export type NativeBinding = CoreBinding &
  ConvKernels &
  NormKernels &
  ElementwiseKernels &
  PoolKernels &
  AttentionKernels &
  InterpKernels &
  LossKernels &
  OptimKernels;

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ann-seg') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('ann-seg: cannot find the package root from ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  try {
    // An explicit addon path, for side-by-side development builds (scripts/dev-build.mjs).
    if (process.env.ANN_SEG_ADDON) return require(process.env.ANN_SEG_ADDON) as NativeBinding;
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(root) as NativeBinding;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `ann-seg: could not load the native addon (${reason}).\n` +
        `No prebuilt binary matches ${process.platform}-${process.arch}; build it from source with\n` +
        `  apt-get install -y libopenblas-dev && npm rebuild ann-seg\n` +
        `(in a checkout of ann-seg: npm run build:native).`,
    );
  }
}

export const native: NativeBinding = load();
