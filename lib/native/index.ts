// The native addon, loaded once per process in the order loader.ts fixes, and its binding's types.
import { existsSync, readFileSync } from 'node:fs';
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
import { loadAddon, type AddonOrigin } from './loader.js';

export type * from './types.js';
export type { AddonOrigin } from './loader.js';

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

const loaded = loadAddon<NativeBinding>({ root: packageRoot() });

export const native: NativeBinding = loaded.binding;
/** Which binary loaded and why (`ann-seg info` prints it). */
export const addonOrigin: AddonOrigin = loaded.origin;
