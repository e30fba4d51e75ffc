// `ann-seg bench kernels|blocks|step`: this machine's kernel rates, the paper's Table 1 blocks and
// one training step, each beside PyTorch when asked (--torch runs it case by case in the same run;
// --compare reads bench/torch/run.py's JSON). Progress goes to stderr, tables to stdout.
// --device cuda runs every case on the GPU: it becomes the default device of this process and of the
// case children (ANN_SEG_DEVICE), each timed run waits for the device, PyTorch's side runs there too.
import { writeFileSync } from 'node:fs';

import { resolveConfig } from '../../models/config.js';
import { native } from '../../native/index.js';
import { cropText } from '../../train/config.js';
import { preset } from '../../train/presets.js';
import { setTF32 } from '../../cuda.js';
import type { Device } from '../../device.js';
import { cropOption, numberOption, parseCommandArgs, stringOption, UsageError, type Command, type Parsed } from '../args.js';
import { DEVICE_OPTION, deviceFlag } from '../device-arg.js';
import { caseKey, parseSizes, scaledSize, type BlockKind, type Size } from './blocks-cases.js';
import { describeSetting, FLOP_HEADER, flopCells, runBlockBench, TIME_HEADER, timeCells, TORCH_HEADER, torchCells } from './blocks.js';
import { describeMachine, kernelJson, renderKernelTable, runKernelBench } from './kernels.js';
import { measureStepInChild, stepKey, type StepCase } from './step.js';
import { renderTable } from './table.js';
import { readTorchJson, type TorchRow } from './torch-json.js';
import { checkTorch, torchCase, torchKernelFamily } from './torch-run.js';

const MB = 2 ** 20;

function progress(i: number, total: number, text: string): void {
  console.error(`[${i + 1}/${total}] ${text}`);
}

/** The timing rule of a run: --quick one run, --runs n exactly n, else at least 3 and up to 2 s. */
function timingOf(values: Parsed['values']): { minRuns?: number; maxRuns?: number; budgetMs?: number } {
  if (values.quick === true) return { minRuns: 1, maxRuns: 1, budgetMs: 0 };
  const runs = numberOption(values, 'runs');
  if (runs === undefined) return {};
  if (!(Number.isInteger(runs) && runs >= 1)) throw new UsageError(`--runs must be a positive integer, got ${runs}`);
  return { minRuns: runs, maxRuns: runs, budgetMs: 0 };
}

function torchSource(values: Parsed['values'], kind: 'blocks' | 'step' | 'kernels'): Map<string, TorchRow> | 'run' | undefined {
  const compare = stringOption(values, 'compare');
  if (compare && values.torch === true) throw new UsageError('give --torch or --compare, not both');
  if (compare) return readTorchJson(compare, kind);
  if (values.torch === true) {
    checkTorch();
    return 'run';
  }
  return undefined;
}

function writeJson(values: Parsed['values'], result: object): void {
  const path = stringOption(values, 'json');
  if (!path) return;
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${path}`);
}

function machineJson(): object {
  const i = native.info();
  return { threads: i.threads, simd: i.simd, blasCore: i.blasCore, coretype: process.env.OPENBLAS_CORETYPE ?? null, node: process.version, ...benchTarget() };
}

const COMMON = { json: { type: 'string' }, compare: { type: 'string' }, quick: { type: 'boolean' }, tf32: { type: 'boolean' }, ...DEVICE_OPTION } as const;

export interface BenchTarget {
  device: Device;
  tf32: boolean;
  /** info().cuda, on the GPU. */
  cuda?: string;
}

/** The device and TF32 setting the cases run with, as --device and --tf32 set them. */
function benchTarget(): BenchTarget {
  const device = process.env.ANN_SEG_DEVICE === 'cuda' ? 'cuda' : 'cpu';
  return device === 'cuda' ? { device, tf32: process.env.ANN_SEG_TF32 === '1', cuda: native.info().cuda } : { device, tf32: false };
}

/**
 * --device (refused with the reason when CUDA is unavailable) and --tf32 (CUDA only), made this
 * process's and the case children's defaults: every case makes its tensors on the default device.
 */
function useTarget(values: Parsed['values']): BenchTarget {
  const device = deviceFlag(values);
  const tf32 = values.tf32 === true;
  if (tf32 && device !== 'cuda') throw new UsageError('--tf32 goes with --device cuda (TF32 is a CUDA tensor-core mode)');
  process.env.ANN_SEG_DEVICE = device;
  if (device === 'cuda') {
    process.env.ANN_SEG_TF32 = tf32 ? '1' : '0';
    setTF32(tf32);
  }
  return benchTarget();
}

function describeTarget(t: BenchTarget): string {
  return t.device === 'cuda' ? `cuda: ${t.cuda}` : `${native.info().threads} threads, OpenBLAS core ${native.info().blasCore}`;
}

function benchKernels(args: string[]): number {
  const { values, positionals } = parseCommandArgs(args, { ...COMMON, filter: { type: 'string' }, torch: { type: 'boolean' } }, true);
  const target = useTarget(values);
  const torch = torchSource(values, 'kernels');
  const quick = values.quick === true;
  let result;
  try {
    result = runKernelBench({
      families: positionals,
      filter: stringOption(values, 'filter'),
      quick,
      torch: torch === 'run' ? (family) => torchKernelFamily(family, quick, target) : torch,
      onRow: (r, i, n) => progress(i, n, `${r.family} ${r.name}: ${r.ms.toFixed(2)} ms`),
    });
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('unknown kernel family')) throw new UsageError(err.message);
    throw err;
  }
  console.log(describeMachine(result.machine));
  console.log(renderKernelTable(result.rows));
  console.log('\nshare: GFLOP/s over the sgemm rate above, or GB/s (least bytes read + written) over the copy rate');
  writeJson(values, { ...kernelJson(result.machine, result.rows), target });
  return 0;
}

function blockSizes(values: Parsed['values']): Size[] {
  const sizes = stringOption(values, 'sizes');
  const scale = numberOption(values, 'scale');
  if (sizes && scale !== undefined) throw new UsageError('give --sizes or --scale, not both');
  if (values.quick === true && !sizes && scale === undefined) return [{ height: 13, width: 6 }];
  if (sizes) {
    try {
      return parseSizes(sizes);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const s = scale ?? 1;
  if (!(s > 0 && s <= 1)) throw new UsageError(`--scale must be in (0, 1], got ${s}`);
  return [scaledSize(s)];
}

function benchBlocks(args: string[]): number {
  const { values } = parseCommandArgs(args, {
    ...COMMON,
    scale: { type: 'string' },
    sizes: { type: 'string' },
    runs: { type: 'string' },
    backward: { type: 'boolean' },
    only: { type: 'string' },
    torch: { type: 'boolean' },
  });
  const target = useTarget(values);
  const sizes = blockSizes(values);
  const only = stringOption(values, 'only')?.split(',');
  const kinds: BlockKind[] = ['NB', 'APNB', 'FNB', 'AFNB'];
  for (const k of only ?? []) if (!kinds.includes(k as BlockKind)) throw new UsageError(`--only: unknown block '${k}' (expected some of ${kinds.join(', ')})`);
  // Default: at least 3 timed runs, more while under 2 s (at most 20); --runs n fixes the count.
  const measure = timingOf(values);
  const torch = torchSource(values, 'blocks');
  const rows = runBlockBench({
    sizes,
    backward: values.backward === true,
    only: only as BlockKind[] | undefined,
    measure,
    torch: torch === 'run' ? (c, key) => torchCase('blocks', { ...c, name: key }, { ...measure, device: target.device, tf32: target.tf32 }) : torch ? (_c, key) => torch.get(key) : undefined,
    onRow: (r, i, n) => {
      const t = r.torch ? `, torch ${r.torch.ms.toFixed(1)} ms (default allocator ${r.torch.msDefault?.toFixed(1) ?? '-'} ms)` : '';
      progress(i, n, `${r.name}: ${r.measured.ms.toFixed(1)} ms, peak ${(r.measured.peakBytes / MB).toFixed(0)} MB${t}`);
    },
  });
  const withTorch = rows.some((r) => r.torch);
  console.log(`Table 1 blocks: ${describeSetting(rows)}; ${describeTarget(target)}`);
  console.log(renderTable(withTorch ? [...TIME_HEADER, ...TORCH_HEADER] : TIME_HEADER, rows.map((r) => (withTorch ? [...timeCells(r), ...torchCells(r)] : timeCells(r)))));
  console.log('\nanalytic FLOPs per run (a multiply-add is 2; fwd+bwd is 3x the training forward; the plain layout, which');
  console.log('PyTorch runs: ours folds W into the fuse conv and does less):');
  console.log(renderTable(FLOP_HEADER, rows.map(flopCells)));
  console.log('\npeak MB: native allocator high-water mark above inputs and parameters; RSS MB: max RSS above the RSS before the first run');
  if (withTorch) console.log('torch ms: freed memory reused (the main column); torch default ms: glibc default allocator');
  writeJson(values, {
    kind: 'blocks',
    date: new Date().toISOString(),
    machine: machineJson(),
    rows: rows.map((r) => ({ name: caseKey(r.blockCase), case: r.blockCase, flops: r.flops, ...r.measured, torch: r.torch })),
  });
  return 0;
}

function benchStep(args: string[]): number {
  const { values } = parseCommandArgs(args, {
    ...COMMON,
    preset: { type: 'string' },
    batch: { type: 'string' },
    crop: { type: 'string' },
    runs: { type: 'string' },
    torch: { type: 'boolean' },
  });
  const target = useTarget(values);
  const name = stringOption(values, 'preset') ?? (values.quick === true ? 'tiny' : 'small');
  let config;
  try {
    config = preset(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const batch = numberOption(values, 'batch', { integer: true, min: 1 }) ?? config.batch;
  const crop = cropOption(values) ?? config.crop;
  const c: StepCase = { preset: name, model: resolveConfig(config.model), batch, crop, lr: config.lr, ohemMinKept: config.ohemMinKept };
  const timing = { minRuns: 3, maxRuns: 20, budgetMs: 5000, ...timingOf(values) };
  const torch = torchSource(values, 'step');
  const key = stepKey(c);
  progress(0, torch === 'run' ? 2 : 1, `${key}: ours`);
  const ours = measureStepInChild(c, timing);
  let t: TorchRow | undefined;
  if (torch === 'run') {
    progress(1, 2, `${key}: PyTorch`);
    t = torchCase('step', { ...c, name: key }, { ...timing, device: target.device, tf32: target.tf32 });
  } else if (torch) {
    t = torch.get(key);
  }
  console.log(`training step (forward, OHEM + 0.4 aux loss, backward, SGD): preset ${name}, ${c.model.variant}, depth ${c.model.depth}, width ${c.model.width}, batch ${batch}, crop ${cropText(crop)}; ${describeTarget(target)}`);
  const header = ['what', 'runs', 'step ms', 'peak MB', 'RSS MB', ...(t ? ['torch ms', 'torch default ms', 'torch RSS MB', 'ours / torch'] : [])];
  const row = [
    'step',
    String(ours.runs),
    ours.ms.toFixed(1),
    (ours.peakBytes / MB).toFixed(1),
    (ours.rssBytes / MB).toFixed(1),
    ...(t ? [t.ms.toFixed(1), t.msDefault?.toFixed(1) ?? '', t.rssBytes === undefined ? '' : (t.rssBytes / MB).toFixed(1), (ours.ms / t.ms).toFixed(2)] : []),
  ];
  console.log(renderTable(header, [row]));
  writeJson(values, { kind: 'step', date: new Date().toISOString(), machine: machineJson(), rows: [{ name: key, case: c, ...ours, torch: t }] });
  return 0;
}

const SUBCOMMANDS: Record<string, (args: string[]) => number> = { kernels: benchKernels, blocks: benchBlocks, step: benchStep };

export const bench: Command = {
  summary: "benchmarks: kernels against this machine's sgemm and copy rates, the paper's Table 1 blocks, a training step",
  help: `usage: ann-seg bench kernels [family...] [--filter text] [--quick] [--json out.json] [--torch|--compare torch.json]
       ann-seg bench blocks [--sizes HxW,...|--scale s] [--only APNB,AFNB] [--backward] [--runs n] [--quick] [--json out.json] [--torch|--compare torch.json]
       ann-seg bench step [--preset name] [--batch n] [--crop n|HxW] [--runs n] [--quick] [--json out.json] [--torch|--compare torch.json]
       each also takes [--device cpu|cuda] [--tf32]

kernels: every kernel case (families attention, conv, elementwise, interp, loss,
  pool; all by default), median of repeated runs, beside this machine's sgemm
  GFLOP/s and copy GB/s, each case's rate as a share of them.
blocks: the paper's Table 1 on this machine: NB vs APNB, FNB vs AFNB at each
  size (default 256x128; --scale 0.5: 128x64), forward, and forward+backward for
  APNB and AFNB (--backward adds NB and FNB: minutes at full size; --only picks
  blocks); analytic
  GFLOP; peak native memory and RSS; each case in a fresh child process.
step: one training step of a preset's network (default small): forward, the
  official loss, backward, SGD; time and peak memory, in a child process.

--quick: one run per case at small sizes (a CI smoke run, not a measurement).
--torch (a source checkout with PyTorch): PyTorch's reference case right after
  each of ours (kernels: each family), by bench/torch/run.py, with freed memory reused
  and on glibc's default allocator. --compare torch.json: those columns from
  the JSON of bench/torch/run.py instead. --json: write the rows as JSON.
--device cuda: every case on the GPU (each run timed to the device's finish, peak MB
  from the device allocator), PyTorch's side on the GPU too; --tf32 with it: TF32
  tensor-core GEMMs on both sides (ANN_SEG_TF32=1, torch's allow_tf32).`,
  run(args) {
    const [what, ...rest] = args;
    const sub = what !== undefined && Object.hasOwn(SUBCOMMANDS, what) ? SUBCOMMANDS[what] : undefined;
    if (!sub) throw new UsageError(`unknown benchmark '${what ?? ''}' (expected ${Object.keys(SUBCOMMANDS).join(', ')})`);
    return sub(rest);
  },
};
