#!/usr/bin/env node
// Makes the CUDA binary's package, packages/cuda-<platform>-<arch>/ann_seg.node: the CMake build with the
// CUDA backend (static CUDA runtime; the driver and cuBLAS are found at run time), checked to need no CUDA
// library at load time, with the package's version set to ann-seg's. `npm pack` in that folder packs it.
// Run it as `npm run prebuild-cuda` on a machine with nvcc.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nativeSources } from './native-sources.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = join(root, 'packages', `cuda-${process.platform}-${process.arch}`);
const fail = (why) => {
  console.error(`prebuild-cuda: ${why}`);
  process.exit(1);
};

if (!existsSync(join(pkgDir, 'package.json'))) fail(`no package folder ${pkgDir} for this platform`);
if (nativeSources('cuda').length === 0) fail('native/cuda holds no sources yet: there is no CUDA backend to build');
try {
  execFileSync('nvcc', ['--version'], { stdio: 'ignore' });
} catch {
  fail('nvcc is not on PATH (install the CUDA toolkit)');
}

const out = join(root, 'build-cuda');
// The same build as `npm run build:cuda` (into build-cuda/), so there is one way to make it.
execFileSync('npm', ['run', 'build:cuda'], { cwd: root, stdio: 'inherit' });
const built = join(out, 'Release', 'ann_seg.node');
if (!existsSync(built)) fail(`cmake-js did not write ${built}`);

// Loading must not need the toolkit: cudart is linked in, libcuda and cuBLAS are opened at run time.
const needed = [...execFileSync('readelf', ['-d', built], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
const cudaLibs = needed.filter((lib) => /^lib(cuda|cudart|cublas)/.test(lib));
if (cudaLibs.length > 0) fail(`${built} needs ${cudaLibs.join(', ')} at load time; it must link cudart statically and open the rest at run time`);
const report = execFileSync(process.execPath, ['-p', 'require(process.argv[1]).info().cuda', built], { encoding: 'utf8' }).trim();
if (report.includes('no CUDA backend')) fail(`${built} was built without the CUDA backend (${report})`);

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const pkgJson = join(pkgDir, 'package.json');
const pkg = JSON.parse(readFileSync(pkgJson, 'utf8'));
pkg.version = version;
pkg.peerDependencies = { 'ann-seg': version };
writeFileSync(pkgJson, JSON.stringify(pkg, null, 2) + '\n');
copyFileSync(built, join(pkgDir, 'ann_seg.node'));
console.log(`prebuild-cuda: ${join(pkgDir, 'ann_seg.node')} (${(statSync(built).size / 2 ** 20).toFixed(1)} MiB), cuda here: ${report}`);
