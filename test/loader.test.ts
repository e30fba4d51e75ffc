// The addon loader's fixed order (ANN_SEG_ADDON, then the CUDA binary behind a driver check and a test load in a
// child process, then the CPU binary) and its failures, each run in a child process against a package folder
// built here: the real CPU addon as its prebuild, and what the case needs in the CUDA package's slot.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { addonOrigin, packageRoot } from '../lib/native/index.js';
import { BUILD_FROM_SOURCE, CUDA_PACKAGE, type AddonOrigin } from '../lib/native/loader.js';

const repo = packageRoot();
const realAddon = addonOrigin.path;
const version = '0.1.0-loader-test';
let tmp: string;
let driver: string;
// Test doubles for the CUDA slot, compiled once: one that aborts as it is loaded (a binary that takes down
// whoever dlopens it), one that reports a CUDA device (so the slot's success path can be seen without a GPU).
let aborting: string;
let reportsDevice: string;

function compile(name: string, source: string): string {
  const src = join(tmp, `${name}.c`);
  const out = join(tmp, `${name}.node`);
  writeFileSync(src, source);
  const nodeInclude = join(dirname(process.execPath), '..', 'include', 'node');
  execFileSync('cc', ['-shared', '-fPIC', `-I${nodeInclude}`, '-o', out, src]);
  return out;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ann-seg-loader-'));
  driver = join(tmp, 'nvidia-driver');
  writeFileSync(driver, 'a stand-in for /proc/driver/nvidia/version\n');
  aborting = compile('aborting', '#include <stdlib.h>\n__attribute__((constructor)) static void boom(void) { abort(); }\n');
  reportsDevice = compile(
    'reports-device',
    `#include <node_api.h>
static napi_value Info(napi_env env, napi_callback_info cb) {
  napi_value o, s;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, "test double: device 0", NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "cuda", s);
  return o;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "info", NAPI_AUTO_LENGTH, Info, NULL, &fn);
  napi_set_named_property(env, exports, "info", fn);
  return exports;
}
`,
  );
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Layout {
  /** The CPU prebuild (default: the real addon). */
  cpu?: string | null;
  /** What sits in the CUDA package's ann_seg.node: a file to link, bytes to write, or nothing (not installed). */
  cuda?: { link: string } | { bytes: Buffer } | null;
  cudaVersion?: string;
}

let count = 0;
function packageFolder(layout: Layout): string {
  const root = join(tmp, `root${count++}`);
  mkdirSync(root);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ann-seg', version }));
  const cpu = layout.cpu === undefined ? realAddon : layout.cpu;
  if (cpu) {
    const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    mkdirSync(dir, { recursive: true });
    symlinkSync(cpu, join(dir, 'ann-seg.glibc.node'));
  }
  if (layout.cuda) {
    const dir = join(root, 'node_modules', ...CUDA_PACKAGE.split('/'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: CUDA_PACKAGE, version: layout.cudaVersion ?? version }));
    if ('link' in layout.cuda) symlinkSync(layout.cuda.link, join(dir, 'ann_seg.node'));
    else writeFileSync(join(dir, 'ann_seg.node'), layout.cuda.bytes);
  }
  return root;
}

interface Loaded {
  status: number | null;
  stderr: string;
  origin?: AddonOrigin;
  cuda?: string;
}

function load(root: string, opts: { drivers?: string[]; env?: Record<string, string> } = {}): Loaded {
  const env: Record<string, string | undefined> = { ...process.env, ANN_SEG_ADDON: undefined, ANN_SEG_DEBUG: undefined, ...opts.env };
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'test/helpers/load-addon.ts'), root, ...(opts.drivers ?? [])], {
    cwd: repo,
    env: env as NodeJS.ProcessEnv,
    encoding: 'utf8',
  });
  const out = r.status === 0 ? (JSON.parse(r.stdout) as { origin: AddonOrigin; cuda: string }) : undefined;
  return { status: r.status, stderr: r.stderr, origin: out?.origin, cuda: out?.cuda };
}

// The real addon cut short: at 32 bytes dlopen refuses it ('file too short'); at 4 KiB its headers are whole
// and promise segments the file does not hold, so dlopen maps them and the process dies of SIGBUS on reading.
const truncated = (bytes: number) => ({ bytes: readFileSync(realAddon).subarray(0, bytes) });

describe('addon loader', () => {
  it('loads the CPU prebuild when no CUDA package is installed, and says why', () => {
    const r = load(packageFolder({}), { drivers: [] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cpu');
    expect(r.origin!.path).toMatch(/prebuilds\/linux-x64\/ann-seg\.glibc\.node$/);
    expect(r.origin!.reason).toContain('prebuilt CPU binary for linux-x64');
    expect(r.origin!.skipped).toEqual([expect.stringContaining(`${CUDA_PACKAGE} is not installed`)]);
    expect(r.cuda).toMatch(/^unavailable/);
    expect(r.stderr).toBe('');
  });

  it('ANN_SEG_ADDON comes first, even before a working CUDA binary', () => {
    const root = packageFolder({ cuda: { link: reportsDevice } });
    const r = load(root, { drivers: [driver], env: { ANN_SEG_ADDON: realAddon } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin).toMatchObject({ slot: 'ANN_SEG_ADDON', path: realAddon, skipped: [] });
  });

  it('an ANN_SEG_ADDON that does not load is the error, naming the path and the fix', () => {
    const missing = join(tmp, 'nowhere', 'ann_seg.node');
    const r = load(packageFolder({}), { env: { ANN_SEG_ADDON: missing } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`ANN_SEG_ADDON=${missing} could not be loaded (Cannot find module`);
    expect(r.stderr).toContain('or unset it to load the installed binary');
  });

  it('a CUDA binary that reports a device is loaded when a driver is present', () => {
    const r = load(packageFolder({ cuda: { link: reportsDevice } }), { drivers: [driver] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cuda');
    expect(r.origin!.reason).toBe(`NVIDIA driver present (${driver}); a test load in a child process reported cuda: test double: device 0`);
    expect(r.cuda).toBe('test double: device 0');
  });

  it('without a driver the CUDA binary is not even test-loaded', () => {
    const r = load(packageFolder({ cuda: { link: aborting } }), { drivers: [join(tmp, 'no-such-driver')] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cpu');
    expect(r.origin!.skipped).toEqual([expect.stringMatching(/ann_seg\.node not used: no NVIDIA driver \(none of .*no-such-driver exists\)$/)]);
  });

  it('a CUDA binary cut to its first bytes fails its test load and the CPU binary loads', () => {
    const r = load(packageFolder({ cuda: truncated(32) }), { drivers: [driver] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cpu');
    expect(r.origin!.skipped).toEqual([
      expect.stringMatching(/ann_seg\.node not used: its test load in a child process exited with status 1 \(Error: .*ann_seg\.node: file too short\)$/),
    ]);
  });

  it('a truncated CUDA binary that crashes whoever loads it takes down only its test load', () => {
    const r = load(packageFolder({ cuda: truncated(4096) }), { drivers: [driver] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cpu');
    expect(r.origin!.skipped).toEqual([expect.stringMatching(/its test load in a child process was killed by SIG(BUS|SEGV)$/)]);
  });

  it('a CUDA binary that aborts as it loads takes down only its test load', () => {
    const r = load(packageFolder({ cuda: { link: aborting } }), { drivers: [driver] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cpu');
    expect(r.origin!.skipped).toEqual([expect.stringContaining('its test load in a child process was killed by SIGABRT')]);
  });

  it('a binary without a CUDA device in the CUDA slot is passed over with its own report', () => {
    const r = load(packageFolder({ cuda: { link: realAddon } }), { drivers: [driver] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cpu');
    expect(r.origin!.skipped).toEqual([expect.stringContaining('its test load in a child process reported cuda: unavailable (')]);
  });

  it('a CUDA package of another version is not used', () => {
    const r = load(packageFolder({ cuda: { link: reportsDevice }, cudaVersion: '9.9.9' }), { drivers: [driver] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.origin!.slot).toBe('cpu');
    expect(r.origin!.skipped).toEqual([`CUDA binary not used: ${CUDA_PACKAGE} is version 9.9.9, ann-seg is ${version} (npm install ${CUDA_PACKAGE}@${version})`]);
  });

  it('ANN_SEG_DEBUG=1 logs each step passed over once, then what loaded', () => {
    const r = load(packageFolder({ cuda: truncated(32) }), { drivers: [driver], env: { ANN_SEG_DEBUG: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ann-seg: CUDA binary .*ann_seg\.node not used: its test load in a child process exited with status 1 \(.*file too short\)$/);
    expect(lines[1]).toBe(`ann-seg: loaded ${r.origin!.path} (${r.origin!.reason})`);
  });

  it('when nothing loads, one error gives each reason and the command that builds from source', () => {
    const r = load(packageFolder({ cpu: null, cuda: truncated(32) }), { drivers: [driver] });
    expect(r.status).not.toBe(0);
    const error = r.stderr.slice(r.stderr.indexOf('ann-seg: no native addon loads'));
    expect(error).toMatch(/^ann-seg: no native addon loads on linux-x64 \(Node v\d+/);
    expect(error).toContain('test load in a child process exited with status 1');
    expect(error).toContain('CPU binary: No native build was found for platform=linux arch=x64');
    expect(error).toContain(`  ${BUILD_FROM_SOURCE}\n`);
  });

  it('a CPU prebuild that cannot be loaded is named in the error', () => {
    const bad = join(tmp, 'bad-cpu.node');
    writeFileSync(bad, truncated(32).bytes);
    const r = load(packageFolder({ cpu: bad }), { drivers: [] });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/CPU binary: .*ann-seg\.glibc\.node: .*file too short/);
    expect(r.stderr).toContain(BUILD_FROM_SOURCE);
  });
});
