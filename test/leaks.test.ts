// ANN_SEG_DEBUG_LEAKS=1 reports a tensor that was garbage-collected without dispose(), with the
// place it was made, and stays silent about disposed ones.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { expect, it } from 'vitest';

import { packageRoot } from '../lib/native/index.js';

it('reports forgotten tensors with their origin when ANN_SEG_DEBUG_LEAKS=1', () => {
  const root = packageRoot();
  // spawnSync keeps stderr, where the warnings go.
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(root, 'test', 'helpers', 'leak-child.ts')], {
    cwd: root,
    env: { ...process.env, ANN_SEG_DEBUG_LEAKS: '1' },
    encoding: 'utf8',
  });
  expect(child.status).toBe(0);
  const reports = child.stderr.split('garbage-collected without dispose()').length - 1;
  expect(reports).toBe(1);
  expect(child.stderr).toMatch(/at forget \(.*leak-child\.ts/);
  expect(child.stderr).not.toMatch(/disposeProperly/);
}, 30_000);
