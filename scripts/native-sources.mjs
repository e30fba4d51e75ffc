#!/usr/bin/env node
// The one list of native sources: binding.gyp and CMakeLists.txt both ask this script, so the
// two builds compile the same files. Usage: native-sources.mjs cpu|cuda|cuda-emu [--cmake]
//   cpu: the kernels and the bindings; cuda: the CUDA backend for nvcc; cuda-emu: the same CUDA
//   sources plus the emulator they compile against as host C++ (native/cuda/emu).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const listed = (dir, ext) =>
  (existsSync(join(root, dir)) ? readdirSync(join(root, dir)) : [])
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => relative(root, join(root, dir, f)).split('\\').join('/'));

export function nativeSources(kind) {
  if (kind === 'cpu') return [...listed('native/cpu', '.cpp'), ...listed('native/napi', '.cpp')];
  if (kind === 'cuda') return [...listed('native/cuda', '.cu'), ...listed('native/cuda', '.cpp')];
  if (kind === 'cuda-emu') return [...nativeSources('cuda'), ...listed('native/cuda/emu', '.cpp')];
  throw new Error(`native-sources: unknown kind '${kind}' (expected cpu, cuda or cuda-emu)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sep = process.argv.includes('--cmake') ? ';' : ' ';
  process.stdout.write(nativeSources(process.argv[2] ?? 'cpu').join(sep));
}
