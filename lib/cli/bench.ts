// `ann-seg bench blocks`: the paper's Table 1 (NB vs APNB, FNB vs AFNB) on this machine.
import { describeSetting, FLOP_HEADER, flopCells, renderTable, runBlockBench, TIME_HEADER, timeCells } from '../bench/blocks.js';
import { native } from '../native/index.js';
import { numberOption, parseCommandArgs, UsageError, type Command } from './args.js';

function benchBlocks(args: string[]): number {
  const { values } = parseCommandArgs(args, { scale: { type: 'string' }, runs: { type: 'string' }, backward: { type: 'boolean' } });
  const scale = numberOption(values, 'scale') ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new UsageError(`--scale must be in (0, 1], got ${scale}`);
  const runs = numberOption(values, 'runs');
  if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1)) throw new UsageError(`--runs must be a positive integer, got ${runs}`);
  // Default: at least 3 timed runs, more while under 2 s (at most 20); --runs n fixes the count.
  const measure = runs === undefined ? {} : { minRuns: runs, maxRuns: runs, budgetMs: 0 };
  const rows = runBlockBench({ scale, backward: values.backward === true, measure });
  console.log(`Table 1 blocks: ${describeSetting(rows)}; ${native.info().threads} threads`);
  console.log(renderTable(TIME_HEADER, rows.map(timeCells)));
  console.log('\nanalytic FLOPs per run (a multiply-add is 2; fwd+bwd is 3x the training forward):');
  console.log(renderTable(FLOP_HEADER, rows.map(flopCells)));
  console.log('\npeak MB: native allocator high-water mark above inputs and parameters; RSS MB: max RSS above the RSS before the first run');
  return 0;
}

export const bench: Command = {
  summary: "micro-benchmarks: the paper's Table 1 blocks",
  help: `usage: ann-seg bench blocks [--scale s] [--backward] [--runs n]

The paper's Table 1 on this machine: NB vs APNB, FNB vs AFNB at 256x128
(--scale 0.5: 128x64): forward time, forward+backward for APNB and AFNB
(--backward adds NB and FNB: minutes at full size), analytic GFLOP, peak
native memory; each case in a fresh child process, timed as the median of
n runs after a warm-up (default: 3 or more, until 2 s)`,
  run(args) {
    const [what, ...rest] = args;
    if (what !== 'blocks') throw new UsageError(`unknown benchmark '${what ?? ''}' (expected blocks)`);
    return benchBlocks(rest);
  },
};
