// `ann-seg info`: what this installation can run and, with --model, what a model preset holds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ANN, parameterCounts } from '../models/ann.js';
import { DEPTHS, VARIANTS, VARIANT_PARTS, type ANNDepth, type ANNVariant } from '../models/config.js';
import { addonOrigin, native, packageRoot } from '../native/index.js';
import { numberOption, parseCommandArgs, stringOption, UsageError, type Command } from './args.js';

// OpenBLAS core names by the widest vector ISA their kernels use (the DYNAMIC_ARCH cores of x86-64).
const BLAS_CORE_ISA: Record<string, number> = {
  sapphirerapids: 3, cooperlake: 3, skylakex: 3,
  haswell: 2, zen: 2, excavator: 2,
  sandybridge: 1, bulldozer: 1, piledriver: 1, steamroller: 1,
  prescott: 0, core2: 0, penryn: 0, dunnington: 0, nehalem: 0, atom: 0, opteron: 0, barcelona: 0, nano: 0,
};
const ISA_NAMES = ['SSE', 'AVX', 'AVX2', 'AVX-512'];

/** The widest ISA this CPU offers OpenBLAS (0 SSE .. 3 AVX-512), from /proc/cpuinfo; undefined off Linux x86. */
function cpuIsa(): number | undefined {
  let flags: Set<string>;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    if (!line) return undefined;
    flags = new Set(line.split(':')[1].trim().split(/\s+/));
  } catch {
    return undefined;
  }
  if (['avx512f', 'avx512vl', 'avx512bw', 'avx512dq'].every((f) => flags.has(f))) return 3;
  if (flags.has('avx2') && flags.has('fma')) return 2;
  return flags.has('avx') ? 1 : 0;
}

/** A note when OPENBLAS_CORETYPE holds OpenBLAS on a narrower core than this CPU runs. */
function blasCoreNote(core: string): string | undefined {
  const setting = process.env.OPENBLAS_CORETYPE;
  const used = BLAS_CORE_ISA[core.toLowerCase()];
  const cpu = cpuIsa();
  if (!setting || used === undefined || cpu === undefined || used >= cpu) return undefined;
  return `OPENBLAS_CORETYPE=${setting} holds OpenBLAS at ${ISA_NAMES[used]}; this CPU has ${ISA_NAMES[cpu]} (unset it to let OpenBLAS pick)`;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

function nativeInfo(): number {
  const i = native.info();
  const version = packageVersion();
  const o = addonOrigin;
  const addonVersion =
    i.version === version
      ? i.version
      : i.version === 'unknown'
        ? 'unknown (a development build)'
        : `${i.version ?? 'not reported'} (this package is ${version}: a stale binary; rebuild it or reinstall ann-seg)`;
  const lines = [
    `ann-seg ${version}`,
    `  addon:   ${addonVersion}`,
    `  binary:  ${o.path}`,
    `  why:     ${o.reason}`,
    `  blas:    ${i.blasCore} core; ${i.blasConfig.trim()}; ${i.blas}`,
  ];
  const threads = process.env.ANN_SEG_NUM_THREADS ? `ANN_SEG_NUM_THREADS=${process.env.ANN_SEG_NUM_THREADS}` : 'all cores';
  lines.push(`  threads: ${i.threads} (${threads})`);
  // simdLevels comes with ANN_SEG_SIMD (the levels this CPU can run); older binaries lack it.
  const levels = (i as { simdLevels?: unknown }).simdLevels;
  const simdFrom = process.env.ANN_SEG_SIMD ? `ANN_SEG_SIMD=${process.env.ANN_SEG_SIMD}` : 'chosen at run time';
  lines.push(`  simd:    ${i.simd} (${simdFrom}${Array.isArray(levels) ? `; this CPU runs ${levels.join(', ')}` : ''})`);
  // Every step the loader passes over is the CUDA binary's (ANN_SEG_ADDON is never passed over).
  lines.push(`  cuda:    ${[i.cuda, ...o.skipped].join('; ')}`);
  const note = blasCoreNote(i.blasCore);
  if (note) lines.push(`  note:    ${note}`);
  console.log(lines.join('\n'));
  return 0;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function modelInfo(values: ReturnType<typeof parseCommandArgs>['values']): number {
  const preset = stringOption(values, 'model');
  if (preset === undefined) throw new UsageError('--depth, --width and --classes go with --model <preset|all>');
  if (preset !== 'all' && !VARIANTS.includes(preset as ANNVariant))
    throw new UsageError(`unknown model preset '${preset}' (expected one of ${VARIANTS.join(', ')}, or all)`);
  const depth = numberOption(values, 'depth') ?? 101;
  if (!DEPTHS.includes(depth as ANNDepth)) throw new UsageError(`--depth must be one of ${DEPTHS.join(', ')}, got ${depth}`);
  const width = numberOption(values, 'width') ?? 1;
  const numClasses = numberOption(values, 'classes') ?? 19;
  const presets = preset === 'all' ? [...VARIANTS] : [preset as ANNVariant];
  console.log(`ANN parameter counts: depth ${depth}, width ${width}, ${numClasses} classes`);
  const header = ['preset', 'backbone', 'fusion', 'context', 'cls', 'dsn', 'heads', 'total'];
  const rows: string[][] = [];
  for (const variant of presets) {
    const model = ANN({ depth: depth as ANNDepth, width, numClasses, variant, seed: 0 });
    try {
      const c = parameterCounts(model);
      rows.push([variant, ...[c.backbone, c.fusion, c.context, c.cls, c.dsn, c.heads, c.total].map(fmt)]);
    } finally {
      model.dispose();
    }
  }
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((s, j) => (j === 0 ? s.padEnd(widths[j]) : s.padStart(widths[j]))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(`${line(r)}  ${VARIANT_PARTS[r[0] as ANNVariant].label}`);
  return 0;
}

export const info: Command = {
  summary: 'the native build (which binary, BLAS, threads, SIMD, CUDA), or a model preset\'s parameter counts',
  help: `usage: ann-seg info
       ann-seg info --model <preset|all> [--depth N] [--width W] [--classes K]

Without options: the package and addon versions, which binary loaded and why (and what was passed
over: set ANN_SEG_DEBUG=1 to see it as it happens), BLAS and its core, threads, SIMD level, CUDA.
With --model: parameter counts (backbone and heads) of a Table 6 preset:
  ${VARIANTS.join(', ')}
  (defaults: depth 101, width 1, 19 classes: the official network)`,
  run(args) {
    const { values } = parseCommandArgs(args, {
      model: { type: 'string' },
      depth: { type: 'string' },
      width: { type: 'string' },
      classes: { type: 'string' },
    });
    return Object.keys(values).length === 0 ? nativeInfo() : modelInfo(values);
  },
};
