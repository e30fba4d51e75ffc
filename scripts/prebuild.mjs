#!/usr/bin/env node
// Makes the CPU prebuild that `npm pack` ships: prebuilds/<platform>-<arch>/ann-seg.glibc.node, built by
// prebuildify through node-gyp (N-API 8: one binary for every Node >= 20; OpenBLAS linked in statically, see
// binding.gyp), stripped, and checked to need nothing beyond glibc, libstdc++ and libgcc_s. It prints the
// newest glibc and libstdc++ symbol versions the binary asks for: the oldest system it runs on.
// Run it as `npm run prebuild` so node-gyp finds the local Node headers (npm passes its nodedir).
// --if-stale (prepack): only when the binary is missing or its sources changed since it was built; the
// hash of what it was built from sits beside it in ann-seg.sources.sha256.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const binary = join(dir, 'ann-seg.glibc.node');
const stamp = join(dir, 'ann-seg.sources.sha256');
// What a glibc-linked addon may need from the system; everything else must be linked in.
const ALLOWED = /^(libc|libm|libpthread|libdl|librt|ld-linux-x86-64|ld-linux-aarch64|libstdc\+\+|libgcc_s)\.so/;

function files(rel) {
  const abs = join(root, rel);
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs).sort().flatMap((f) => files(join(rel, f)));
}

function sourcesHash() {
  const h = createHash('sha256');
  h.update(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  for (const f of [...files('native'), 'binding.gyp', 'scripts/native-sources.mjs', 'scripts/openblas.mjs']) {
    h.update(f);
    h.update(readFileSync(join(root, f)));
  }
  return h.digest('hex');
}

const hash = sourcesHash();
if (process.argv.includes('--if-stale') && existsSync(binary) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) {
  console.error(`prebuild: ${binary} is up to date`);
  process.exit(0);
}

// Progress goes to stderr, so `npm pack --json` (whose prepack runs this) keeps a clean stdout.
// JOBS=max: node-gyp compiles on every core (prebuildify runs it serially otherwise).
execFileSync('prebuildify', ['--napi', '--strip', '--tag-libc'], {
  cwd: root,
  stdio: ['ignore', 2, 2],
  env: { ...process.env, JOBS: process.env.JOBS ?? 'max' },
});
if (!existsSync(binary)) throw new Error(`prebuild: prebuildify did not write ${binary}`);

const needed = [...execFileSync('readelf', ['-d', binary], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
const extra = needed.filter((lib) => !ALLOWED.test(lib));
if (extra.length > 0) throw new Error(`prebuild: ${binary} needs ${extra.join(', ')}; it may only need glibc, libstdc++ and libgcc_s`);
writeFileSync(stamp, hash + '\n');
const symbols = execFileSync('objdump', ['-T', binary], { encoding: 'utf8' });
const newest = (lib) => [...new Set([...symbols.matchAll(new RegExp(`\\b${lib}_([0-9.]+)`, 'g'))].map((m) => m[1]))]
  .sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
console.error(`prebuild: ${binary} (${(statSync(binary).size / 2 ** 20).toFixed(1)} MiB)`);
console.error(`  needs ${needed.join(', ')}; glibc >= ${newest('GLIBC')}, libstdc++ >= GLIBCXX_${newest('GLIBCXX')}`);
