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
    // CMake splits that one list into the kernels (an object library native/tests links too) and
    // the bindings, and the addon is made of both.
    expect(cmake).toMatch(/set\(KERNEL_SOURCES \$\{CPU_SOURCES\}\)/);
    expect(cmake).toMatch(/set\(BINDING_SOURCES \$\{CPU_SOURCES\}\)/);
    expect(cmake).toMatch(/add_library\(ann_core OBJECT \$\{KERNEL_SOURCES\}\)/);
    expect(cmake).toMatch(/add_library\(\$\{PROJECT_NAME\} SHARED \$\{BINDING_SOURCES\}/);
    expect(cmake).toMatch(/target_link_libraries\(\$\{PROJECT_NAME\} PRIVATE ann_core\)/);
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

  it('the CUDA lists hold every CUDA source, and the emulated one the emulator too', () => {
    const cuda = ['native/cuda'].flatMap((dir) =>
      readdirSync(join(root, dir))
        .filter((f) => f.endsWith('.cu') || f.endsWith('.cpp'))
        .map((f) => `${dir}/${f}`),
    );
    const emu = readdirSync(join(root, 'native/cuda/emu'))
      .filter((f) => f.endsWith('.cpp'))
      .map((f) => `native/cuda/emu/${f}`);
    expect([...(nativeSources('cuda') as string[])].sort()).toEqual(cuda.sort());
    expect([...(nativeSources('cuda-emu') as string[])].sort()).toEqual([...cuda, ...emu].sort());
    const cmake = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');
    expect(cmake).toMatch(/node_output\(CUDA_SOURCES scripts\/native-sources\.mjs cuda --cmake\)/);
    expect(cmake).toMatch(/node_output\(CUDA_SOURCES scripts\/native-sources\.mjs cuda-emu --cmake\)/);
    expect(cmake).not.toMatch(/native\/cuda\/\w+\.(cu|cpp)/);
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
