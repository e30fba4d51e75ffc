// The `ann-seg` command line. Commands arrive with their issues: train, eval, predict, ablate
// and bench build on the model; `info` reports what this installation can run and, with
// --model, what a model preset holds.
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

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'info':
        return info(rest);
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
