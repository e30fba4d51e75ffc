// Picks the native binary, in a fixed order:
//   1. ANN_SEG_ADDON, an explicit path: used as is; if it does not load, that is the error (no fallback).
//   2. The CUDA binary (the optional package @ann-seg/cuda-<platform>-<arch>), only where an NVIDIA driver
//      is present and a test load in a child process succeeds and reports a usable device: a corrupt or
//      mismatched binary can crash whoever dlopens it, so the first load happens in a process we can lose.
//   3. The CPU binary, through node-gyp-build: build/Release (a source build) before prebuilds/.
// Every step passed over is logged once to stderr when ANN_SEG_DEBUG is set; when nothing loads, one
// error lists each step's reason and the command that fixes it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** The package that holds the CUDA build (static cudart; cuBLAS found at run time), installed on request. */
export const CUDA_PACKAGE = `@ann-seg/cuda-${process.platform}-${process.arch}`;

/** Files whose presence means an NVIDIA driver is installed: the kernel module's, its control device, WSL2's GPU. */
export const DRIVER_FILES = ['/proc/driver/nvidia/version', '/dev/nvidiactl', '/dev/dxg'];

// npm rebuild reruns the install script, node-gyp-build, which compiles unless a prebuild loads.
export const BUILD_FROM_SOURCE =
  'apt-get install -y g++ make python3 libopenblas-dev && npm rebuild ann-seg';

export interface AddonOrigin {
  slot: 'ANN_SEG_ADDON' | 'cuda' | 'cpu';
  /** The file that was loaded. */
  path: string;
  /** Why this file: which rule of the order chose it. */
  reason: string;
  /** Each earlier step that was passed over, and why. */
  skipped: string[];
}

export interface LoadOptions {
  /** The ann-seg package folder (holds package.json, build/, prebuilds/). */
  root: string;
  env?: NodeJS.ProcessEnv;
  driverFiles?: string[];
  /** Where ANN_SEG_DEBUG lines go (default: stderr). */
  log?: (line: string) => void;
}

// The test load: the binary's own report of CUDA, as DESIGN.md fixes it: info().cuda is a string that starts
// with 'unavailable' when there is no usable device.
const PROBE = "process.stdout.write(JSON.stringify(require(process.argv[1]).info().cuda ?? 'unavailable (no info().cuda)'))";
const PROBE_TIMEOUT_MS = 60_000;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).trim().split('\n')[0];

export function loadAddon<T>(opts: LoadOptions): { binding: T; origin: AddonOrigin } {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const debug = (line: string) => {
    if (env.ANN_SEG_DEBUG) log(`ann-seg: ${line}`);
  };
  const require = createRequire(import.meta.url);
  const skipped: string[] = [];
  const pass = (why: string) => {
    skipped.push(why);
    debug(why);
  };
  const done = (binding: T, origin: Omit<AddonOrigin, 'skipped'>) => {
    debug(`loaded ${origin.path} (${origin.reason})`);
    return { binding, origin: { ...origin, skipped } };
  };

  const explicit = env.ANN_SEG_ADDON;
  if (explicit) {
    const path = resolve(explicit);
    try {
      return done(require(path) as T, { slot: 'ANN_SEG_ADDON', path, reason: 'ANN_SEG_ADDON names it' });
    } catch (err) {
      throw new Error(
        `ann-seg: ANN_SEG_ADDON=${explicit} could not be loaded (${message(err)}).\n` +
          'Point ANN_SEG_ADDON at a built ann_seg.node (in a clone, npm run build:native writes build/Release/ann_seg.node), ' +
          'or unset it to load the installed binary.',
      );
    }
  }

  const cuda = cudaCandidate(opts.root, opts.driverFiles ?? DRIVER_FILES, env);
  if ('path' in cuda) {
    try {
      return done(require(cuda.path) as T, { slot: 'cuda', path: cuda.path, reason: cuda.reason });
    } catch (err) {
      pass(`CUDA binary ${cuda.path} passed its test load but failed to load here (${message(err)})`);
    }
  } else pass(cuda.skip);

  let cpuPath: string | undefined;
  let cpuError: string;
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    cpuPath = nodeGypBuild.resolve(opts.root);
    return done(require(cpuPath) as T, { slot: 'cpu', path: cpuPath, reason: cpuReason(opts.root, cpuPath) });
  } catch (err) {
    cpuError = cpuPath ? `${cpuPath}: ${message(err)}` : message(err);
  }
  throw new Error(
    `ann-seg: no native addon loads on ${process.platform}-${process.arch} (Node ${process.version}).\n` +
      skipped.map((s) => `  ${s}\n`).join('') +
      `  CPU binary: ${cpuError}\n` +
      `Build it from source (needs g++, make, python3 and a static OpenBLAS), in your project:\n` +
      `  ${BUILD_FROM_SOURCE}\n` +
      '(in a clone of ann-seg: npm run build:native)',
  );
}

function cpuReason(root: string, path: string): string {
  const rel = relative(root, path).split(sep);
  if (rel[0] === 'prebuilds') return `the prebuilt CPU binary for ${rel[1]} (N-API 8: any Node >= 20)`;
  if (rel[0] === 'build') return `the CPU binary built from source in ${rel.slice(0, 2).join('/')} (node-gyp-build prefers it to prebuilds/)`;
  return 'the CPU binary node-gyp-build found';
}

type CudaCandidate = { path: string; reason: string } | { skip: string };

function cudaCandidate(root: string, driverFiles: string[], env: NodeJS.ProcessEnv): CudaCandidate {
  let pkgJson: string;
  try {
    pkgJson = createRequire(join(root, 'package.json')).resolve(`${CUDA_PACKAGE}/package.json`);
  } catch {
    return { skip: `no CUDA binary: ${CUDA_PACKAGE} is not installed (npm install ${CUDA_PACKAGE} on a machine with an NVIDIA GPU)` };
  }
  const ours = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const theirs = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version?: string }).version;
  if (theirs !== ours)
    return { skip: `CUDA binary not used: ${CUDA_PACKAGE} is version ${theirs}, ann-seg is ${ours} (npm install ${CUDA_PACKAGE}@${ours})` };
  const path = join(dirname(pkgJson), 'ann_seg.node');
  if (!existsSync(path)) return { skip: `CUDA binary not used: ${CUDA_PACKAGE} has no ann_seg.node (reinstall it)` };
  const driver = driverFiles.find((f) => existsSync(f));
  if (!driver) return { skip: `CUDA binary ${path} not used: no NVIDIA driver (none of ${driverFiles.join(', ')} exists)` };

  const r = spawnSync(process.execPath, ['-e', PROBE, path], { env, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  const failed = (why: string) => ({ skip: `CUDA binary ${path} not used: its test load in a child process ${why}` });
  if (r.error) return failed(`could not run (${r.error.message})`);
  if (r.signal) return failed(`was killed by ${r.signal}`);
  if (r.status !== 0) {
    const lines = r.stderr.split('\n').filter((l) => /error/i.test(l));
    return failed(`exited with status ${r.status} (${(lines[0] ?? r.stderr.trim().split('\n')[0] ?? '').trim()})`);
  }
  let report: unknown;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    return failed(`printed no report (${JSON.stringify(r.stdout.slice(0, 200))})`);
  }
  if (typeof report !== 'string' || report.startsWith('unavailable')) return failed(`reported cuda: ${String(report)}`);
  return { path, reason: `NVIDIA driver present (${driver}); a test load in a child process reported cuda: ${report}` };
}
