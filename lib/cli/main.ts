// The `ann-seg` command line. Commands arrive with their issues: train, eval, predict, ablate
// and bench build on the model; `info` reports what this installation can run and, with
// --model, what a model preset holds.
import { describeSetting, FLOP_HEADER, flopCells, renderTable, runBlockBench, TIME_HEADER, timeCells } from '../bench/blocks.js';
import { ANN, parameterCounts } from '../models/ann.js';
import { DEPTHS, VARIANTS, VARIANT_PARTS, type ANNDepth, type ANNVariant } from '../models/config.js';
import { native } from '../native/index.js';

const HELP = `usage: ann-seg <command>

commands:
  info     the native build: BLAS, threads, SIMD level, CUDA availability
  info --model <preset|all> [--depth N] [--width W] [--classes K]
           parameter counts (backbone and heads) of a Table 6 preset:
           ${VARIANTS.join(', ')}
           (defaults: depth 101, width 1, 19 classes: the official network)
  bench blocks [--scale s] [--backward] [--runs n]
           the paper's Table 1 on this machine: NB vs APNB, FNB vs AFNB at 256x128
           (--scale 0.5: 128x64): forward time, forward+backward for APNB and AFNB
           (--backward adds NB and FNB: minutes at full size), analytic GFLOP, peak
           native memory; each case in a fresh child process, timed as the median of
           n runs after a warm-up (default: 3 or more, until 2 s)
  help     this text`;

function nativeInfo(): number {
  const i = native.info();
  console.log(`ann-seg native addon
  blas:    ${i.blas}
  threads: ${i.threads}
  simd:    ${i.simd}
  cuda:    ${i.cuda}`);
  return 0;
}

class UsageError extends Error {}

/** --name value pairs; every name must be in `allowed`. */
function parseFlags(args: string[], allowed: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i];
    if (!name.startsWith('--') || !allowed.includes(name.slice(2)))
      throw new UsageError(`unknown option '${name}' (expected ${allowed.map((a) => `--${a}`).join(', ')})`);
    if (i + 1 >= args.length) throw new UsageError(`option '${name}' needs a value`);
    flags.set(name.slice(2), args[i + 1]);
  }
  return flags;
}

function numberFlag(flags: Map<string, string>, name: string): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return n;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function modelInfo(args: string[]): number {
  const flags = parseFlags(args, ['model', 'depth', 'width', 'classes']);
  const preset = flags.get('model');
  if (preset === undefined) throw new UsageError('--depth, --width and --classes go with --model <preset|all>');
  if (preset !== 'all' && !VARIANTS.includes(preset as ANNVariant))
    throw new UsageError(`unknown model preset '${preset}' (expected one of ${VARIANTS.join(', ')}, or all)`);
  const depth = numberFlag(flags, 'depth') ?? 101;
  if (!DEPTHS.includes(depth as ANNDepth)) throw new UsageError(`--depth must be one of ${DEPTHS.join(', ')}, got ${depth}`);
  const width = numberFlag(flags, 'width') ?? 1;
  const numClasses = numberFlag(flags, 'classes') ?? 19;
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

function info(args: string[]): number {
  return args.length === 0 ? nativeInfo() : modelInfo(args);
}

/** --flag value pairs plus bare switches (`switches`, no value). */
function splitSwitches(args: string[], switches: string[]): { rest: string[]; on: Set<string> } {
  const on = new Set<string>();
  const rest: string[] = [];
  for (const a of args) {
    if (a.startsWith('--') && switches.includes(a.slice(2))) on.add(a.slice(2));
    else rest.push(a);
  }
  return { rest, on };
}

function benchBlocks(args: string[]): number {
  const { rest, on } = splitSwitches(args, ['backward']);
  const flags = parseFlags(rest, ['scale', 'runs', 'backward']);
  const scale = numberFlag(flags, 'scale') ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new UsageError(`--scale must be in (0, 1], got ${scale}`);
  const runs = numberFlag(flags, 'runs');
  if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1)) throw new UsageError(`--runs must be a positive integer, got ${runs}`);
  // Default: at least 3 timed runs, more while under 2 s (at most 20); --runs n fixes the count.
  const measure = runs === undefined ? {} : { minRuns: runs, maxRuns: runs, budgetMs: 0 };
  const rows = runBlockBench({ scale, backward: on.has('backward'), measure });
  console.log(`Table 1 blocks: ${describeSetting(rows)}; ${native.info().threads} threads`);
  console.log(renderTable(TIME_HEADER, rows.map(timeCells)));
  console.log('\nanalytic FLOPs per run (a multiply-add is 2; fwd+bwd is 3x the training forward):');
  console.log(renderTable(FLOP_HEADER, rows.map(flopCells)));
  console.log('\npeak MB: native allocator high-water mark above inputs and parameters; RSS MB: max RSS above the RSS before the first run');
  return 0;
}

function bench(args: string[]): number {
  const [what, ...rest] = args;
  if (what !== 'blocks') throw new UsageError(`unknown benchmark '${what ?? ''}' (expected blocks)`);
  return benchBlocks(rest);
}

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'info':
        return info(rest);
      case 'bench':
        return bench(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(HELP);
        return 0;
      default:
        console.error(`ann-seg: unknown command '${cmd}'\n\n${HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`ann-seg ${cmd}: ${err.message}`);
      return 2;
    }
    // A bad configuration (an impossible width, say) is the user's to fix, not a crash.
    if (err instanceof Error && err.message.startsWith('ANN config:')) {
      console.error(`ann-seg ${cmd}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
