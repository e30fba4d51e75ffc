#!/usr/bin/env node
// A fast, incremental development build of the addon into a folder of your choice, so several
// builds can live side by side: node scripts/dev-build.mjs [family ...] --out DIR
// With families, only the core sources and native/{cpu,napi}/<family>* are compiled.
// Load the result with ANN_SEG_ADDON=DIR/ann_seg.node. -O3 as the release builds, whose float
// results it then matches bit for bit. Release builds use binding.gyp or CMake.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cpus } from 'node:os';
import { nativeSources } from './native-sources.mjs';

const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
if (outIdx < 0 || !args[outIdx + 1]) {
  console.error('usage: node scripts/dev-build.mjs [family ...] --out DIR');
  process.exit(2);
}
const out = args[outIdx + 1];
const families = args.filter((a, i) => i !== outIdx && i !== outIdx + 1);
const CORE = ['alloc', 'parallel', 'gemm', 'simd', 'addon', 'args', 'core', 'device', 'dispatch', 'registry', 'tensor'];
const picked = nativeSources('cpu').filter((f) => {
  const name = basename(f, '.cpp');
  return families.length === 0 || CORE.includes(name) || families.some((fam) => name.startsWith(fam));
});
const node = (expr) => execFileSync(process.execPath, ['-p', expr], { encoding: 'utf8' }).trim();
const napiInclude = node("require('node-addon-api').include_dir");
const nodeInclude = join(process.execPath, '..', '..', 'include', 'node');
const blasInc = execFileSync(process.execPath, ['scripts/openblas.mjs', 'include'], { encoding: 'utf8' });
const blasLib = execFileSync(process.execPath, ['scripts/openblas.mjs', 'lib'], { encoding: 'utf8' });
const flags = ['-std=c++17', '-O3', '-g', '-fPIC', '-fexceptions', '-fvisibility=hidden', '-Wno-psabi', '-DNAPI_VERSION=8',
  '-DNAPI_CPP_EXCEPTIONS', `-I${napiInclude}`, `-I${nodeInclude}`, '-Inative/include', `-I${blasInc}`,
  ...(process.env.ANN_DEV_CXXFLAGS ? process.env.ANN_DEV_CXXFLAGS.split(' ') : [])];
mkdirSync(out, { recursive: true });

const headersTime = Math.max(...execFileSync('sh', ['-c', 'ls native/include/ann/*.h native/napi/*.h native/cpu/*.h 2>/dev/null'], { encoding: 'utf8' })
  .trim().split('\n').map((h) => statSync(h).mtimeMs));
const jobs = picked.map((src) => ({ src, obj: join(out, src.replace(/[/\\]/g, '_') + '.o') }))
  .filter(({ src, obj }) => !existsSync(obj) || statSync(obj).mtimeMs < Math.max(statSync(src).mtimeMs, headersTime));
const run = (cmd, argv) => new Promise((resolve, reject) => {
  const p = spawn(cmd, argv, { stdio: 'inherit' });
  p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed on ${argv.at(-1)}`))));
});
const queue = [...jobs];
const width = Math.max(1, cpus().length);
await Promise.all(Array.from({ length: width }, async () => {
  for (let job; (job = queue.shift()); ) await run('g++', [...flags, '-c', '-o', job.obj, job.src]);
}));
const objs = picked.map((src) => join(out, src.replace(/[/\\]/g, '_') + '.o'));
await run('g++', ['-shared', '-o', join(out, 'ann_seg.node'), ...objs, blasLib, '-lpthread', '-lm']);
console.log(`built ${join(out, 'ann_seg.node')} (${picked.length} sources, ${jobs.length} compiled)`);
