// `ann-seg info`: what this installation can run and, with --model, what a model preset holds.
import { ANN, parameterCounts } from '../models/ann.js';
import { DEPTHS, VARIANTS, VARIANT_PARTS, type ANNDepth, type ANNVariant } from '../models/config.js';
import { native } from '../native/index.js';
import { numberOption, parseCommandArgs, stringOption, UsageError, type Command } from './args.js';

function nativeInfo(): number {
  const i = native.info();
  console.log(`ann-seg native addon
  blas:    ${i.blas}
  threads: ${i.threads}
  simd:    ${i.simd}
  cuda:    ${i.cuda}`);
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
  summary: 'the native build (BLAS, threads, SIMD, CUDA), or a model preset\'s parameter counts',
  help: `usage: ann-seg info
       ann-seg info --model <preset|all> [--depth N] [--width W] [--classes K]

Without options: the native build: BLAS, threads, SIMD level, CUDA availability.
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
