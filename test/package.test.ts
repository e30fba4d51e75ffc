// What `npm pack` ships, and what `ann-seg info` reports about the binary that loaded (in child processes, so
// OpenBLAS reads OPENBLAS_CORETYPE afresh). .ci/package-test.sh installs the real tarball.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { addonOrigin, packageRoot } from '../lib/native/index.js';

const root = packageRoot();
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

function info(env: Record<string, string | undefined>): { status: number | null; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', "const { run } = await import('./lib/cli/main.ts'); process.exitCode = await run(['info']);"],
    { cwd: root, env: { ...process.env, ...env } as NodeJS.ProcessEnv, encoding: 'utf8' },
  );
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe('npm pack', () => {
  it('ships the JavaScript, the command, the prebuilds and the sources a fallback build needs, and nothing else', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path);
    const top = new Set(files.map((f) => (f.includes('/') ? f.split('/')[0] : f)));
    expect([...top].sort()).toEqual(
      ['LICENSE', 'README.md', 'binding.gyp', 'bin', 'dist', 'native', 'package.json', 'scripts', ...(files.some((f) => f.startsWith('prebuilds/')) ? ['prebuilds'] : [])].sort(),
    );
    expect(files).toContain('bin/ann-seg.js');
    expect(files).toContain('dist/lib/index.js');
    expect(files).toContain('dist/lib/index.d.ts');
    expect(files).toContain('native/napi/core.cpp');
    expect(files.filter((f) => f.startsWith('scripts/')).sort()).toEqual(['scripts/native-sources.mjs', 'scripts/openblas.mjs']);
    expect(files.filter((f) => f.startsWith('native/')).every((f) => /^native\/(include|cpu|napi)\//.test(f))).toBe(true);
    expect(files.filter((f) => f.startsWith('dist/')).every((f) => f.startsWith('dist/lib/') && !f.endsWith('.map'))).toBe(true);
  });
});

describe('ann-seg info', () => {
  it('names the versions, the binary that loaded and why, and the BLAS core, threads, SIMD level and CUDA', () => {
    const r = info({ ANN_SEG_NUM_THREADS: '2' });
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain(`ann-seg ${version}\n`);
    expect(r.out).toMatch(new RegExp(`\\n  addon:   (${version.replace(/\./g, '\\.')}|unknown \\(a development build\\))\\n`));
    expect(r.out).toContain(`\n  binary:  ${addonOrigin.path}\n`);
    expect(r.out).toContain(`\n  why:     ${addonOrigin.reason}\n`);
    expect(r.out).toMatch(/\n {2}blas: {4}\w+ core; OpenBLAS \d+\.\d+\.\d+ .*DYNAMIC_ARCH/);
    expect(r.out).toContain('\n  threads: 2 (ANN_SEG_NUM_THREADS=2)\n');
    expect(r.out).toMatch(/\n {2}simd: {4}\S+ \(/);
    expect(r.out).toMatch(/\n {2}cuda: {4}unavailable \(.*\); no CUDA binary: @ann-seg\/cuda-linux-x64 is not installed/);
  });

  it('reports the core OPENBLAS_CORETYPE forces, and notes that it holds OpenBLAS below this CPU', () => {
    const forced = info({ OPENBLAS_CORETYPE: 'Nehalem' });
    expect(forced.status, forced.err).toBe(0);
    expect(forced.out).toMatch(/\n {2}blas: {4}Nehalem core;/);
    expect(forced.out).toMatch(/\n {2}note: {4}OPENBLAS_CORETYPE=Nehalem holds OpenBLAS at SSE; this CPU has AVX/);
    const free = info({ OPENBLAS_CORETYPE: undefined });
    expect(free.status, free.err).toBe(0);
    expect(free.out).not.toContain('note:');
  });
});
