// The two builds compile one source list, and the addon exports what the TypeScript declares.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { native, packageRoot } from '../lib/native/index.js';
// @ts-expect-error: a plain .mjs build script without type declarations
import { nativeSources } from '../scripts/native-sources.mjs';

const root = packageRoot();

describe('build configuration', () => {
  it('binding.gyp and CMakeLists.txt both take their CPU sources from scripts/native-sources.mjs', () => {
    const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
    const cmake = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');
    expect(gyp).toContain('<!@(node scripts/native-sources.mjs cpu)');
    expect(cmake).toMatch(/node_output\(CPU_SOURCES scripts\/native-sources\.mjs cpu --cmake\)/);
    expect(cmake).toMatch(/add_library\(\$\{PROJECT_NAME\} SHARED \$\{CPU_SOURCES\}/);
    // No other source list may creep into either file.
    expect(gyp).not.toMatch(/native\/(cpu|napi)\/\w+\.cpp/);
    expect(cmake).not.toMatch(/native\/(cpu|napi)\/\w+\.cpp/);
  });

  it('the source list holds every CPU and binding source', () => {
    const onDisk = ['native/cpu', 'native/napi'].flatMap((dir) =>
      readdirSync(join(root, dir))
        .filter((f) => f.endsWith('.cpp'))
        .map((f) => `${dir}/${f}`),
    );
    expect([...(nativeSources('cpu') as string[])].sort()).toEqual(onDisk.sort());
  });

  it('the addon exports every function the TypeScript kernel interfaces declare', () => {
    const dir = join(root, 'lib', 'native', 'kernels');
    const declared = readdirSync(dir).flatMap((f) =>
      [...readFileSync(join(dir, f), 'utf8').matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]),
    );
    const exported = native as unknown as Record<string, unknown>;
    const missing = declared.filter((name) => typeof exported[name] !== 'function');
    expect(missing).toEqual([]);
  });
});
